"""`Connection`: an authenticated HTTP session with one FlowAPI server."""

from __future__ import annotations

import warnings
from typing import Any

import httpx

from flowclient import _http
from flowclient._query import APIQuery


class Connection:
    """A session with a FlowAPI server, carrying the bearer token on every request.

    Args:
        url: base URL of the server, e.g. "https://localhost:9090".
        token: a JWT issued for this server (FlowAuth or flowkit_jwt_generator).
        api_version: the API version in the route prefix (`/api/<version>/`).
        ssl_certificate: path to a CA bundle, True for the system roots (None means the same),
            or False to skip certificate checks.

    Attributes:
        url, token, api_version, user: as given; `user` is the token's `sub` claim.
    """

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
        self.session = httpx.Client(
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

    def get_url(
        self, *, route: str, data: dict | None = None, params: dict | None = None
    ) -> httpx.Response:
        """GET `route` (relative to `/api/<version>/`) without following redirects.

        Returns the response for 200, 202 and 303. Raises FileNotFoundError for 404 and
        FlowclientConnectionError for anything else or when the server cannot be reached.
        """
        _http.logger.debug("Getting %s", self._full(route))
        try:
            response = self.session.request(
                "GET", route, follow_redirects=False, json=data, params=params
            )
        except httpx.RequestError as exc:
            raise _http.connection_failed(self.url, exc) from exc
        return _http.check_get_response(response, self._full(route))

    def post_json(self, *, route: str, data: dict[str, Any]) -> httpx.Response:
        """POST `data` as JSON to `route`; returns the 202 response, raises otherwise."""
        _http.logger.debug("Posting %s to %s", data, self._full(route))
        try:
            response = self.session.post(route, json=data)
        except httpx.RequestError as exc:
            raise _http.connection_failed(self.url, exc) from exc
        return _http.check_post_response(response, self._full(route))

    def make_api_query(self, parameters: dict[str, Any]) -> APIQuery:
        """An `APIQuery` for the spec `parameters` on this connection (not yet run)."""
        return APIQuery(connection=self, parameters=parameters)

    def close(self) -> None:
        """Close the underlying HTTP session."""
        self.session.close()

    def __repr__(self) -> str:
        return f"{self.user}@{self.url} v{self.api_version}"
