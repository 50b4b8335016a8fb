"""`APIQuery`: one query spec bound to a connection, run and fetched on demand.

Published as `flowclient.api_query.APIQuery` (its `__module__`, so reprs, pickles and `help()` name the public
home, as `collections.abc` does for `_collections_abc`). It is defined here, below `flowclient.connection`,
because `Connection.make_api_query` builds one: the query needs only `ConnectionLike`.
"""

from __future__ import annotations

from typing import Any

import httpx
import pandas as pd

from flowclient._lifecycle import (
    ConnectionLike,
    get_geojson_result_by_query_id,
    get_result_by_query_id,
    get_status,
    run_query,
    wait_for_query_to_be_ready,
)
from flowclient.privacy import Privacy, WatchedConnection, privacy_from_headers

_FORMATS = ("pandas", "geojson")


def check_format(format: str) -> None:
    """Raise ValueError unless `format` is "pandas" or "geojson"."""
    if format not in _FORMATS:
        raise ValueError(f"Invalid format: '{format}'. Expected one of {{'pandas', 'geojson'}}.")


class APIQuery:
    """A FlowKit query: a spec plus the connection to run it on.

    Args:
        connection: the server to run the query on.
        parameters: the query spec (a dict with `query_kind`), copied.
    """

    __module__ = "flowclient.api_query"

    def __init__(self, *, connection: ConnectionLike, parameters: dict[str, Any]) -> None:
        self._connection = connection
        self.parameters = dict(parameters)
        self.privacy: Privacy | None = None  # ours: set by a differentially private query's replies

    def __repr__(self) -> str:
        cls = type(self)
        return (
            f"<{cls.__module__}.{cls.__name__} object, connection={self.connection}, "
            f"parameters={self.parameters}>"
        )

    @property
    def connection(self) -> ConnectionLike:
        """The connection this query runs on."""
        return self._connection

    def _watched(self) -> WatchedConnection:
        """The connection, with every response's privacy headers noted in `self.privacy`."""
        return WatchedConnection(self.connection, self._see)

    def _see(self, response: httpx.Response) -> None:
        privacy = privacy_from_headers(response.headers)
        if privacy is not None:
            self.privacy = privacy

    def run(self) -> None:
        """Set the query running on the server (raises FlowclientConnectionError if refused)."""
        self._query_id = run_query(connection=self._watched(), query_spec=self.parameters)

    @property
    def status(self) -> str:
        """ "not_running" before `run()`, then the server's state ("queued", "completed", ...)."""
        if not hasattr(self, "_query_id"):
            return "not_running"
        return get_status(connection=self._watched(), query_id=self._query_id)

    def wait_until_ready(
        self, poll_interval: int = 1, disable_progress: bool | None = None
    ) -> None:
        """Block until the query has finished (FileNotFoundError if it was never run)."""
        if not hasattr(self, "_query_id"):
            raise FileNotFoundError("Query is not running.")
        wait_for_query_to_be_ready(
            connection=self._watched(),
            query_id=self._query_id,
            poll_interval=poll_interval,
            disable_progress=disable_progress,
        )

    def get_result(
        self,
        format: str = "pandas",
        poll_interval: int = 1,
        disable_progress: bool | None = None,
    ) -> pd.DataFrame | dict[str, Any]:
        """The result as a DataFrame (`format="pandas"`) or GeoJSON dict (`"geojson"`).

        Runs the query first if it has not been run, or if the server no longer knows it.
        """
        check_format(format)
        getter = get_result_by_query_id if format == "pandas" else get_geojson_result_by_query_id
        if not hasattr(self, "_query_id"):
            self.run()
        try:
            return getter(
                connection=self._watched(),
                query_id=self._query_id,
                poll_interval=poll_interval,
                disable_progress=disable_progress,
            )
        except FileNotFoundError:
            self.run()
            return getter(
                connection=self._watched(),
                query_id=self._query_id,
                poll_interval=poll_interval,
                disable_progress=disable_progress,
            )
