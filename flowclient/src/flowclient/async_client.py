"""Asynchronous versions of the functions in `flowclient.client`, for an `ASyncConnection`."""

from __future__ import annotations

import asyncio
import datetime
from typing import Any

import httpx
import pandas as pd
from tqdm.auto import tqdm

from flowclient import _http
from flowclient.async_connection import ASyncConnection

logger = _http.logger


async def connect_async(
    *,
    url: str,
    token: str,
    api_version: int = 0,
    ssl_certificate: str | bool | None = True,
) -> ASyncConnection:
    """Open an `ASyncConnection` to the FlowAPI server at `url` with `token`."""
    return ASyncConnection(
        url=url, token=token, api_version=api_version, ssl_certificate=ssl_certificate
    )


async def run_query(*, connection: ASyncConnection, query_spec: dict[str, Any]) -> str:
    """Ask the server to run `query_spec`; returns the query id."""
    response = await connection.post_json(route="run", data=query_spec)
    return _http.query_id_from_run(response)


async def query_is_ready(
    *, connection: ASyncConnection, query_id: str
) -> tuple[bool, httpx.Response]:
    """Poll once: (True, response) when ready, (False, response) while running."""
    response = await connection.get_url(route=f"poll/{query_id}")
    return _http.poll_outcome(response), response


async def get_status(*, connection: ASyncConnection, query_id: str) -> str:
    """The query's state, or "not_running" if the server does not know it."""
    try:
        ready, response = await query_is_ready(connection=connection, query_id=query_id)
    except FileNotFoundError:
        return "not_running"
    return _http.status_from_poll(ready, response)


async def wait_for_query_to_be_ready(
    *,
    connection: ASyncConnection,
    query_id: str,
    poll_interval: int = 1,
    disable_progress: bool | None = None,
) -> httpx.Response:
    """Poll every `poll_interval` seconds (without blocking the loop) until ready."""
    ready, response = await query_is_ready(connection=connection, query_id=query_id)
    if ready:
        return response
    total = _http.eligible_parts(response)
    done = 0
    with tqdm(desc="Parts run", disable=disable_progress, unit="q", total=total) as bar:
        while not ready:
            await asyncio.sleep(poll_interval)
            ready, response = await query_is_ready(connection=connection, query_id=query_id)
            if not ready:
                now_done = total - _http.eligible_parts(response)
                bar.update(now_done - done)
                done = now_done
        bar.update(total - done)
    return response


async def get_result_location_from_id_when_ready(
    *,
    connection: ASyncConnection,
    query_id: str,
    poll_interval: int = 1,
    disable_progress: bool | None = None,
) -> str:
    """Wait for the query, then return its result route (`get/<id>`)."""
    response = await wait_for_query_to_be_ready(
        connection=connection,
        query_id=query_id,
        poll_interval=poll_interval,
        disable_progress=disable_progress,
    )
    return _http.result_route(response)


async def get_json_dataframe(*, connection: ASyncConnection, location: str) -> pd.DataFrame:
    """Fetch the JSON result at route `location` as a DataFrame."""
    response = _http.require_ok(await connection.get_url(route=location), "result")
    return pd.DataFrame.from_records(response.json()["query_result"])


async def get_result_by_query_id(
    *,
    connection: ASyncConnection,
    query_id: str,
    poll_interval: int = 1,
    disable_progress: bool | None = None,
) -> pd.DataFrame:
    """Wait for the query `query_id` and return its result as a DataFrame."""
    location = await get_result_location_from_id_when_ready(
        connection=connection,
        query_id=query_id,
        poll_interval=poll_interval,
        disable_progress=disable_progress,
    )
    return await get_json_dataframe(connection=connection, location=location)


async def get_geojson_result_by_query_id(
    *,
    connection: ASyncConnection,
    query_id: str,
    poll_interval: int = 1,
    disable_progress: bool | None = None,
) -> dict[str, Any]:
    """Wait for the query `query_id` and return its result as GeoJSON."""
    location = await get_result_location_from_id_when_ready(
        connection=connection,
        query_id=query_id,
        poll_interval=poll_interval,
        disable_progress=disable_progress,
    )
    response = await connection.get_url(route=f"{location}.geojson")
    return _http.require_ok(response, "result").json()


async def get_result(
    *,
    connection: ASyncConnection,
    query_spec: dict[str, Any],
    disable_progress: bool | None = None,
) -> pd.DataFrame:
    """Run `query_spec`, wait for it and return the result as a DataFrame."""
    query_id = await run_query(connection=connection, query_spec=query_spec)
    return await get_result_by_query_id(
        connection=connection, query_id=query_id, disable_progress=disable_progress
    )


async def get_geojson_result(
    *,
    connection: ASyncConnection,
    query_spec: dict[str, Any],
    disable_progress: bool | None = None,
) -> dict[str, Any]:
    """Run `query_spec`, wait for it and return the result as GeoJSON."""
    query_id = await run_query(connection=connection, query_spec=query_spec)
    return await get_geojson_result_by_query_id(
        connection=connection, query_id=query_id, disable_progress=disable_progress
    )


async def get_geography(*, connection: ASyncConnection, aggregation_unit: str) -> dict[str, Any]:
    """The boundaries of `aggregation_unit` as a GeoJSON FeatureCollection."""
    response = await connection.get_url(route=f"geography/{aggregation_unit}")
    return _http.require_ok(response, "result").json()


async def get_available_dates(
    *, connection: ASyncConnection, event_types: list[str] | None = None
) -> dict[str, list[str]]:
    """Dates with data per event type (only `event_types` if given)."""
    response = await connection.get_url(route="available_dates")
    result = _http.require_ok(response, "available dates").json()["available_dates"]
    return _http.filter_dates(result, event_types)


async def get_available_qa_checks(
    *, connection: ASyncConnection, event_types: list[str] | None = None
) -> list[dict[str, str]]:
    """The QA checks on record, as `{"cdr_type", "type_of_query_or_check"}` dicts."""
    response = await connection.get_url(route="qa/")
    return _http.filter_checks(_http.require_ok(response, "qa checks").json(), event_types)


async def get_available_qa_checks_df(
    *, connection: ASyncConnection, event_types: list[str] | None = None
) -> pd.DataFrame:
    """`get_available_qa_checks` as a DataFrame."""
    checks = await get_available_qa_checks(connection=connection, event_types=event_types)
    return pd.DataFrame(checks)


async def get_qa_check_outcome(
    *,
    connection: ASyncConnection,
    event_type: str,
    check_type: str,
    event_date: datetime.date | str,
) -> str:
    """The outcome of one QA check for one event type on one date, as text."""
    response = await connection.get_url(route=f"qa/{event_type}/{check_type}/{event_date}")
    return _http.require_ok(response, "qa check outcome").text


async def get_qa_check_outcomes(
    *,
    connection: ASyncConnection,
    event_type: str,
    check_type: str,
    start_date: datetime.date | str,
    end_date: datetime.date | str,
) -> list[dict[str, str]]:
    """Outcomes of one QA check between two dates (inclusive)."""
    response = await connection.get_url(
        route=f"qa/{event_type}/{check_type}",
        params={"start_date": str(start_date), "end_date": str(end_date)},
    )
    return _http.require_ok(response, "qa check outcome").json()


async def get_qa_check_outcomes_df(
    *,
    connection: ASyncConnection,
    event_type: str,
    check_type: str,
    start_date: datetime.date | str,
    end_date: datetime.date | str,
) -> pd.DataFrame:
    """`get_qa_check_outcomes` as a DataFrame."""
    outcomes = await get_qa_check_outcomes(
        connection=connection,
        event_type=event_type,
        check_type=check_type,
        start_date=start_date,
        end_date=end_date,
    )
    return pd.DataFrame(outcomes)
