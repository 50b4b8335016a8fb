"""`ASyncConnection`: the asyncio twin of `Connection`, on an `httpx.AsyncClient`."""

from __future__ import annotations

import warnings
from typing import Any

import httpx

from flowclient import _http
from flowclient._async_query import ASyncAPIQuery


class ASyncConnection:
    """An asynchronous session with a FlowAPI server; arguments as for `Connection`."""

    url: str
    token: str
    user: str
    api_version: int

    def __init__(
        self,
        *,
        url: str,
        token: str,
        api_version: int = 0,
        ssl_certificate: str | bool | None = True,
    ) -> None:
        if not url.lower().startswith("https://"):
            warnings.warn(_http.INSECURE_WARNING, stacklevel=2)
        self.url = url
        self.api_version = api_version
        self.session = httpx.AsyncClient(
            base_url=f"{url}/api/{api_version}/",
            timeout=None,
            verify=_http.verify_option(ssl_certificate),
        )
        self.update_token(token=token)

    def update_token(self, token: str) -> None:
        """Use `token` from now on (raises FlowclientConnectionError if it has no `sub`)."""
        self.user = _http.user_from_token(token)
        self.token = token
        self.session.headers["Authorization"] = f"Bearer {token}"

    def _full(self, route: str) -> str:
        return f"{self.url}/api/{self.api_version}/{route}"

    async def get_url(
        self, *, route: str, data: dict | None = None, params: dict | None = None
    ) -> httpx.Response:
        """GET `route`; same outcomes as `Connection.get_url`."""
        _http.logger.debug("Getting %s", self._full(route))
        try:
            response = await self.session.request(
                "GET", route, follow_redirects=False, json=data, params=params
            )
        except httpx.RequestError as exc:
            raise _http.connection_failed(self.url, exc) from exc
        return _http.check_get_response(response, self._full(route))

    async def post_json(self, *, route: str, data: dict[str, Any]) -> httpx.Response:
        """POST `data` as JSON; same outcomes as `Connection.post_json`."""
        _http.logger.debug("Posting %s to %s", data, self._full(route))
        try:
            response = await self.session.post(route, json=data)
        except httpx.RequestError as exc:
            raise _http.connection_failed(self.url, exc) from exc
        return _http.check_post_response(response, self._full(route))

    def make_api_query(self, parameters: dict[str, Any]) -> ASyncAPIQuery:
        """An `ASyncAPIQuery` for the spec `parameters` on this connection (not yet run)."""
        return ASyncAPIQuery(connection=self, parameters=parameters)

    async def aclose(self) -> None:
        """Close the underlying HTTP session."""
        await self.session.aclose()

    def __repr__(self) -> str:
        return f"{self.user}@{self.url} v{self.api_version}"
