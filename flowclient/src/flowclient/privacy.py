"""What a differentially private query spends (ours, issue 21): `APIQuery.privacy` after a run, poll or get.

A FlowAPI whose server releases differentially private results answers every request about such a query with
`X-Privacy-Epsilon` (what the query spends), `X-Privacy-Epsilon-Spent` and `X-Privacy-Epsilon-Remaining` (the
token's totals after that request). A query object watches its own requests' responses and keeps the latest.

    query = flowclient.spatial_aggregate(connection=conn, locations=..., epsilon=0.5)
    query.get_result()
    query.privacy  # Privacy(epsilon=0.5, spent=1.5, remaining=3.5)

Queries of a server in the default (redaction) mode, and queries without epsilon, keep `privacy` None.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

__all__ = ["Privacy", "privacy_from_headers"]

EPSILON_HEADER = "X-Privacy-Epsilon"
SPENT_HEADER = "X-Privacy-Epsilon-Spent"
REMAINING_HEADER = "X-Privacy-Epsilon-Remaining"


@dataclass(frozen=True)
class Privacy:
    """The epsilon a query spends, and the token's spent and remaining budget (None when not reported)."""

    epsilon: float
    spent: float | None = None
    remaining: float | None = None


def _number(headers: Mapping[str, str], name: str) -> float | None:
    try:
        return float(headers[name])
    except (KeyError, ValueError):
        return None


def privacy_from_headers(headers: Mapping[str, str]) -> Privacy | None:
    """The privacy headers of a response, or None when it has none (a query without epsilon)."""
    epsilon = _number(headers, EPSILON_HEADER)
    if epsilon is None:
        return None
    return Privacy(epsilon, _number(headers, SPENT_HEADER), _number(headers, REMAINING_HEADER))


class WatchedConnection:
    """A connection whose responses are shown to `seen` before the caller gets them (for APIQuery)."""

    def __init__(self, connection: Any, seen: Callable[[httpx.Response], None]) -> None:
        self._connection, self._seen = connection, seen

    @property
    def url(self) -> str:
        return str(self._connection.url)

    def get_url(self, **kwargs: Any) -> httpx.Response:
        response: httpx.Response = self._connection.get_url(**kwargs)
        self._seen(response)
        return response

    def post_json(self, **kwargs: Any) -> httpx.Response:
        response: httpx.Response = self._connection.post_json(**kwargs)
        self._seen(response)
        return response

    def __str__(self) -> str:
        return str(self._connection)


class AsyncWatchedConnection:
    """WatchedConnection for an asynchronous connection (ASyncAPIQuery)."""

    def __init__(self, connection: Any, seen: Callable[[httpx.Response], None]) -> None:
        self._connection, self._seen = connection, seen

    @property
    def url(self) -> str:
        return str(self._connection.url)

    async def get_url(self, **kwargs: Any) -> httpx.Response:
        response: httpx.Response = await self._connection.get_url(**kwargs)
        self._seen(response)
        return response

    async def post_json(self, **kwargs: Any) -> httpx.Response:
        response: httpx.Response = await self._connection.post_json(**kwargs)
        self._seen(response)
        return response

    def __str__(self) -> str:
        return str(self._connection)
