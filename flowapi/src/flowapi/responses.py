"""JSON responses as FlowAPI sends them (keys in the order given, the app's JSON provider)."""

from __future__ import annotations

from typing import Any, cast

from quart import Response, current_app


def json_response(body: Any, status: int, headers: dict[str, str] | None = None) -> Response:
    """`body` as JSON with `status` and extra `headers`."""
    # the provider builds the app's own response class (quart's Response); its stub names werkzeug's base
    response = cast(Response, current_app.json.response(body))
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response
