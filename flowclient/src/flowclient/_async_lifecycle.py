"""Running a query and fetching its result, awaited: the asyncio twin of `flowclient._lifecycle`.

The functions need only `AsyncConnectionLike` (an `ASyncConnection` is one), so `ASyncAPIQuery` can use them
without importing `ASyncConnection`. Published as `flowclient.async_client`'s functions.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

import httpx
import pandas as pd
from tqdm.auto import tqdm

from flowclient import _http


class AsyncConnectionLike(Protocol):
    """What the awaited query functions need of a connection: its URL and its GET and POST."""

    @property
    def url(self) -> str: ...

    async def get_url(
        self, *, route: str, data: dict | None = None, params: dict | None = None
    ) -> httpx.Response: ...

    async def post_json(self, *, route: str, data: dict[str, Any]) -> httpx.Response: ...


async def run_query(*, connection: AsyncConnectionLike, query_spec: dict[str, Any]) -> str:
    """Ask the server to run `query_spec`; returns the query id."""
    response = await connection.post_json(route="run", data=query_spec)
    return _http.query_id_from_run(response)


async def query_is_ready(
    *, connection: AsyncConnectionLike, query_id: str
) -> tuple[bool, httpx.Response]:
    """Poll once: (True, response) when ready, (False, response) while running."""
    response = await connection.get_url(route=f"poll/{query_id}")
    return _http.poll_outcome(response), response


async def get_status(*, connection: AsyncConnectionLike, query_id: str) -> str:
    """The query's state, or "not_running" if the server does not know it."""
    try:
        ready, response = await query_is_ready(connection=connection, query_id=query_id)
    except FileNotFoundError:
        return "not_running"
    return _http.status_from_poll(ready, response)


async def wait_for_query_to_be_ready(
    *,
    connection: AsyncConnectionLike,
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
    connection: AsyncConnectionLike,
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


async def get_json_dataframe(*, connection: AsyncConnectionLike, location: str) -> pd.DataFrame:
    """Fetch the JSON result at route `location` as a DataFrame."""
    response = _http.require_ok(await connection.get_url(route=location), "result")
    return pd.DataFrame.from_records(response.json()["query_result"])


async def get_result_by_query_id(
    *,
    connection: AsyncConnectionLike,
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
    connection: AsyncConnectionLike,
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
    connection: AsyncConnectionLike,
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
    connection: AsyncConnectionLike,
    query_spec: dict[str, Any],
    disable_progress: bool | None = None,
) -> dict[str, Any]:
    """Run `query_spec`, wait for it and return the result as GeoJSON."""
    query_id = await run_query(connection=connection, query_spec=query_spec)
    return await get_geojson_result_by_query_id(
        connection=connection, query_id=query_id, disable_progress=disable_progress
    )


# Their public home (as `APIQuery`'s is flowclient.api_query), so `help(flowclient.async_client)` lists them.
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
    _function.__module__ = "flowclient.async_client"
