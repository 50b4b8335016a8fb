"""Synchronous functions to run queries, wait for them and fetch results and metadata."""

from __future__ import annotations

import datetime
import time
from typing import Any

import httpx
import pandas as pd
from tqdm.auto import tqdm

from flowclient import _http
from flowclient.connection import Connection

logger = _http.logger


def connect(
    *,
    url: str,
    token: str,
    api_version: int = 0,
    ssl_certificate: str | bool | None = True,
) -> Connection:
    """Open a `Connection` to the FlowAPI server at `url` with `token` (see `Connection`)."""
    return Connection(
        url=url, token=token, api_version=api_version, ssl_certificate=ssl_certificate
    )


def run_query(*, connection: Connection, query_spec: dict[str, Any]) -> str:
    """Ask the server to run `query_spec`; returns the query id.

    Raises:
        FlowclientConnectionError: the spec was refused (the message carries the server's reason).
    """
    logger.info("Requesting run of %s at %s", query_spec, connection.url)
    response = connection.post_json(route="run", data=query_spec)
    query_id = _http.query_id_from_run(response)
    logger.info("Accepted %s with id %s", query_spec, query_id)
    return query_id


def query_is_ready(*, connection: Connection, query_id: str) -> tuple[bool, httpx.Response]:
    """Poll once: (True, response) when the result is ready, (False, response) while running.

    Raises:
        FlowclientConnectionError: the query errored or was cancelled.
        FileNotFoundError: the server does not know the query.
    """
    response = connection.get_url(route=f"poll/{query_id}")
    return _http.poll_outcome(response), response


def get_status(*, connection: Connection, query_id: str) -> str:
    """The query's state: "completed", "queued", "executing", ... or "not_running" if unknown."""
    try:
        ready, response = query_is_ready(connection=connection, query_id=query_id)
    except FileNotFoundError:
        return "not_running"
    return _http.status_from_poll(ready, response)


def wait_for_query_to_be_ready(
    *,
    connection: Connection,
    query_id: str,
    poll_interval: int = 1,
    disable_progress: bool | None = None,
) -> httpx.Response:
    """Poll every `poll_interval` seconds until the query is ready; returns the 303 response.

    A tqdm bar counts the query's parts as they finish (`disable_progress`: True hides it,
    None hides it when not on a terminal, False always shows it).
    """
    ready, response = query_is_ready(connection=connection, query_id=query_id)
    if ready:
        return response
    total = _http.eligible_parts(response)
    done = 0
    with tqdm(desc="Parts run", disable=disable_progress, unit="q", total=total) as bar:
        while not ready:
            time.sleep(poll_interval)
            ready, response = query_is_ready(connection=connection, query_id=query_id)
            if not ready:
                now_done = total - _http.eligible_parts(response)
                bar.update(now_done - done)
                done = now_done
        bar.update(total - done)
    return response


def get_result_location_from_id_when_ready(
    *,
    connection: Connection,
    query_id: str,
    poll_interval: int = 1,
    disable_progress: bool | None = None,
) -> str:
    """Wait for the query, then return its result route (`get/<id>`)."""
    response = wait_for_query_to_be_ready(
        connection=connection,
        query_id=query_id,
        poll_interval=poll_interval,
        disable_progress=disable_progress,
    )
    return _http.result_route(response)


def get_json_dataframe(*, connection: Connection, location: str) -> pd.DataFrame:
    """Fetch the JSON result at route `location` as a DataFrame."""
    response = _http.require_ok(connection.get_url(route=location), "result")
    return pd.DataFrame.from_records(response.json()["query_result"])


def get_result_by_query_id(
    *,
    connection: Connection,
    query_id: str,
    poll_interval: int = 1,
    disable_progress: bool | None = None,
) -> pd.DataFrame:
    """Wait for the query `query_id` and return its result as a DataFrame."""
    location = get_result_location_from_id_when_ready(
        connection=connection,
        query_id=query_id,
        poll_interval=poll_interval,
        disable_progress=disable_progress,
    )
    return get_json_dataframe(connection=connection, location=location)


def get_geojson_result_by_query_id(
    *,
    connection: Connection,
    query_id: str,
    poll_interval: int = 1,
    disable_progress: bool | None = None,
) -> dict[str, Any]:
    """Wait for the query `query_id` and return its result as a GeoJSON dict."""
    location = get_result_location_from_id_when_ready(
        connection=connection,
        query_id=query_id,
        poll_interval=poll_interval,
        disable_progress=disable_progress,
    )
    response = connection.get_url(route=f"{location}.geojson")
    return _http.require_ok(response, "result").json()


def get_result(
    *,
    connection: Connection,
    query_spec: dict[str, Any],
    disable_progress: bool | None = None,
) -> pd.DataFrame:
    """Run `query_spec`, wait for it and return the result as a DataFrame."""
    query_id = run_query(connection=connection, query_spec=query_spec)
    return get_result_by_query_id(
        connection=connection, query_id=query_id, disable_progress=disable_progress
    )


def get_geojson_result(
    *,
    connection: Connection,
    query_spec: dict[str, Any],
    disable_progress: bool | None = None,
) -> dict[str, Any]:
    """Run `query_spec`, wait for it and return the result as GeoJSON."""
    query_id = run_query(connection=connection, query_spec=query_spec)
    return get_geojson_result_by_query_id(
        connection=connection, query_id=query_id, disable_progress=disable_progress
    )


def get_geography(*, connection: Connection, aggregation_unit: str) -> dict[str, Any]:
    """The boundaries of `aggregation_unit` (e.g. "admin3") as a GeoJSON FeatureCollection."""
    response = connection.get_url(route=f"geography/{aggregation_unit}")
    return _http.require_ok(response, "result").json()


def get_available_dates(
    *, connection: Connection, event_types: list[str] | None = None
) -> dict[str, list[str]]:
    """Dates with data per event type, `{"calls": ["2016-01-01", ...], ...}`.

    Args:
        event_types: keep only these event types (all when None).
    """
    response = connection.get_url(route="available_dates")
    result = _http.require_ok(response, "available dates").json()["available_dates"]
    return _http.filter_dates(result, event_types)


def get_available_qa_checks(
    *, connection: Connection, event_types: list[str] | None = None
) -> list[dict[str, str]]:
    """The QA checks on record, as `{"cdr_type", "type_of_query_or_check"}` dicts."""
    response = connection.get_url(route="qa/")
    return _http.filter_checks(_http.require_ok(response, "qa checks").json(), event_types)


def get_available_qa_checks_df(
    *, connection: Connection, event_types: list[str] | None = None
) -> pd.DataFrame:
    """`get_available_qa_checks` as a DataFrame."""
    return pd.DataFrame(get_available_qa_checks(connection=connection, event_types=event_types))


def get_qa_check_outcome(
    *,
    connection: Connection,
    event_type: str,
    check_type: str,
    event_date: datetime.date | str,
) -> str:
    """The outcome of one QA check for one event type on one date, as text."""
    response = connection.get_url(route=f"qa/{event_type}/{check_type}/{event_date}")
    return _http.require_ok(response, "qa check outcome").text


def get_qa_check_outcomes(
    *,
    connection: Connection,
    event_type: str,
    check_type: str,
    start_date: datetime.date | str,
    end_date: datetime.date | str,
) -> list[dict[str, str]]:
    """Outcomes of one QA check between two dates (inclusive), as `{outcome, cdr_date, ...}`."""
    response = connection.get_url(
        route=f"qa/{event_type}/{check_type}",
        params={"start_date": str(start_date), "end_date": str(end_date)},
    )
    return _http.require_ok(response, "qa check outcome").json()


def get_qa_check_outcomes_df(
    *,
    connection: Connection,
    event_type: str,
    check_type: str,
    start_date: datetime.date | str,
    end_date: datetime.date | str,
) -> pd.DataFrame:
    """`get_qa_check_outcomes` as a DataFrame."""
    return pd.DataFrame(
        get_qa_check_outcomes(
            connection=connection,
            event_type=event_type,
            check_type=check_type,
            start_date=start_date,
            end_date=end_date,
        )
    )
