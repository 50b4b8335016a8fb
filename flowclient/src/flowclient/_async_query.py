"""`ASyncAPIQuery`: `APIQuery` whose network methods are coroutines.

Published as `flowclient.async_api_query.ASyncAPIQuery` (its `__module__`); defined here, below
`flowclient.async_connection`, whose `make_api_query` builds one.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from flowclient._async_lifecycle import (
    AsyncConnectionLike,
    get_geojson_result_by_query_id,
    get_result_by_query_id,
    get_status,
    run_query,
    wait_for_query_to_be_ready,
)
from flowclient._query import APIQuery, check_format
from flowclient.privacy import AsyncWatchedConnection, Privacy


class ASyncAPIQuery(APIQuery):
    """A FlowKit query on an `ASyncConnection`; `run`, `status`, `get_result` and
    `wait_until_ready` must be awaited (`status` is a coroutine method, not a property)."""

    __module__ = "flowclient.async_api_query"

    # As in flowclient 1.34, the async query is an APIQuery whose connection is asynchronous and whose
    # network methods are coroutines: those overrides are deliberate (hence the `override` ignores).

    def __init__(self, *, connection: AsyncConnectionLike, parameters: dict[str, Any]) -> None:
        self._connection = connection  # type: ignore[assignment]
        self.parameters = dict(parameters)
        self.privacy: Privacy | None = None  # ours: set by a differentially private query's replies

    @property
    def connection(self) -> AsyncConnectionLike:  # type: ignore[override]
        """The connection this query runs on."""
        return self._connection  # type: ignore[return-value]

    def _watched(self) -> AsyncWatchedConnection:  # type: ignore[override]
        """The connection, with every response's privacy headers noted in `self.privacy`."""
        return AsyncWatchedConnection(self.connection, self._see)

    async def run(self) -> None:  # type: ignore[override]
        """Set the query running on the server."""
        self._query_id = await run_query(connection=self._watched(), query_spec=self.parameters)

    async def status(self) -> str:  # type: ignore[override]
        """ "not_running" before `run()`, then the server's state."""
        if not hasattr(self, "_query_id"):
            return "not_running"
        return await get_status(connection=self._watched(), query_id=self._query_id)

    async def wait_until_ready(  # type: ignore[override]
        self, poll_interval: int = 1, disable_progress: bool | None = None
    ) -> None:
        """Wait until the query has finished (FileNotFoundError if it was never run)."""
        if not hasattr(self, "_query_id"):
            raise FileNotFoundError("Query is not running.")
        await wait_for_query_to_be_ready(
            connection=self._watched(),
            query_id=self._query_id,
            poll_interval=poll_interval,
            disable_progress=disable_progress,
        )

    async def get_result(
        self,
        format: str = "pandas",
        poll_interval: int = 1,
        disable_progress: bool | None = None,
    ) -> pd.DataFrame | dict[str, Any]:
        """The result as a DataFrame or GeoJSON dict, running the query first if needed."""
        check_format(format)
        getter = get_result_by_query_id if format == "pandas" else get_geojson_result_by_query_id
        if not hasattr(self, "_query_id"):
            await self.run()
        try:
            return await getter(
                connection=self._watched(),
                query_id=self._query_id,
                poll_interval=poll_interval,
                disable_progress=disable_progress,
            )
        except FileNotFoundError:
            await self.run()
            return await getter(
                connection=self._watched(),
                query_id=self._query_id,
                poll_interval=poll_interval,
                disable_progress=disable_progress,
            )
