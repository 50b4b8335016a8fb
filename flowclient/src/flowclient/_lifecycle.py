"""Running a query and fetching its result, on anything with a connection's two requests.

`run_query` → `query_is_ready` / `wait_for_query_to_be_ready` → `get_result_by_query_id`. The functions need
only `ConnectionLike` (a `Connection` is one), so `APIQuery` can use them without importing `Connection`, whose
`make_api_query` builds `APIQuery`s. Published as `flowclient.client`'s functions.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

import httpx
import pandas as pd
from tqdm.auto import tqdm

from flowclient import _http

logger = _http.logger


class ConnectionLike(Protocol):
    """What the query functions need of a connection: its URL and its GET and POST."""

    @property
    def url(self) -> str: ...

    def get_url(
        self, *, route: str, data: dict | None = None, params: dict | None = None
    ) -> httpx.Response: ...

    def post_json(self, *, route: str, data: dict[str, Any]) -> httpx.Response: ...


def run_query(*, connection: ConnectionLike, query_spec: dict[str, Any]) -> str:
    """Ask the server to run `query_spec`; returns the query id.

    Raises:
        FlowclientConnectionError: the spec was refused (the message carries the server's reason).
    """
    logger.info("Requesting run of %s at %s", query_spec, connection.url)
    response = connection.post_json(route="run", data=query_spec)
    query_id = _http.query_id_from_run(response)
    logger.info("Accepted %s with id %s", query_spec, query_id)
    return query_id


def query_is_ready(*, connection: ConnectionLike, query_id: str) -> tuple[bool, httpx.Response]:
    """Poll once: (True, response) when the result is ready, (False, response) while running.

    Raises:
        FlowclientConnectionError: the query errored or was cancelled.
        FileNotFoundError: the server does not know the query.
    """
    response = connection.get_url(route=f"poll/{query_id}")
    return _http.poll_outcome(response), response


def get_status(*, connection: ConnectionLike, query_id: str) -> str:
    """The query's state: "completed", "queued", "executing", ... or "not_running" if unknown."""
    try:
        ready, response = query_is_ready(connection=connection, query_id=query_id)
    except FileNotFoundError:
        return "not_running"
    return _http.status_from_poll(ready, response)


def wait_for_query_to_be_ready(
    *,
    connection: ConnectionLike,
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
    connection: ConnectionLike,
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


def get_json_dataframe(*, connection: ConnectionLike, location: str) -> pd.DataFrame:
    """Fetch the JSON result at route `location` as a DataFrame."""
    response = _http.require_ok(connection.get_url(route=location), "result")
    return pd.DataFrame.from_records(response.json()["query_result"])


def get_result_by_query_id(
    *,
    connection: ConnectionLike,
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
    connection: ConnectionLike,
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
    connection: ConnectionLike,
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
    connection: ConnectionLike,
    query_spec: dict[str, Any],
    disable_progress: bool | None = None,
) -> dict[str, Any]:
    """Run `query_spec`, wait for it and return the result as GeoJSON."""
    query_id = run_query(connection=connection, query_spec=query_spec)
    return get_geojson_result_by_query_id(
        connection=connection, query_id=query_id, disable_progress=disable_progress
    )


# Their public home (as `APIQuery`'s is flowclient.api_query), so `help(flowclient.client)` lists them.
for _function in (
    run_query,
    query_is_ready,
    get_status,
    wait_for_query_to_be_ready,
    get_result_location_from_id_when_ready,
    get_json_dataframe,
    get_result_by_query_id,
    get_geojson_result_by_query_id,
    get_result,
    get_geojson_result,
):
    _function.__module__ = "flowclient.client"
