"""Every failure as a JSON response in FlowKit's shape, never an HTML page or a bare 500.

`register_error_handlers(app)` installs one handler per kind of failure: `APIError` (raised by routes),
token errors (401/422), FlowMachine unavailable (503 with `Retry-After`) or answering nonsense (502), FlowDB
unreachable (503), Quart's own HTTP errors (unknown route, wrong method, oversize body) and anything else (500).

Errors whose cause is a database, driver or programming failure never show that cause to the client: the
body says what failed in general terms with the request id (also in the `X-Request-ID` header of every
response), and the debug log has the detail under the same id (`internal_error`).
"""

from __future__ import annotations

import asyncpg
from quart import Quart, Response, g
from werkzeug.exceptions import HTTPException

from flowapi.auth import TokenError
from flowapi.errors import APIError
from flowapi.request_record import request_id
from flowapi.responses import json_response
from flowapi.state import state
from flowapi.zmq_client import FlowmachineUnavailable
from flowkit_protocol import DEFAULT_RETRY_AFTER, MalformedReply, Reply


def internal_error(
    msg: str,
    status: int = 500,
    *,
    exc: BaseException | None = None,
    outcome: str = "internal_error",
) -> APIError:
    """The error for a failure whose cause is not the client's business: `msg` (general terms) and the
    request id to the client; the exception (`exc`, else the one being handled) to the debug log, with
    the same request id."""
    rid = request_id()
    state().debug_log.error(
        "%s", msg, exc_info=exc if exc is not None else True, extra={"request_id": rid}
    )
    return APIError(status, f"{msg} (request id {rid})", outcome=outcome, request_id=rid)


def register_error_handlers(app: Quart) -> None:
    """Answer every exception a request can raise with FlowKit's JSON (and note its outcome)."""

    @app.errorhandler(APIError)
    async def api_error(exc: APIError) -> Response:
        g.outcome = exc.outcome
        return json_response(exc.body, exc.status_code, exc.headers)

    @app.errorhandler(TokenError)
    async def token_error(exc: TokenError) -> Response:
        g.outcome = exc.event
        return json_response({"msg": exc.msg}, exc.status)

    @app.errorhandler(FlowmachineUnavailable)
    async def flowmachine_unavailable(exc: FlowmachineUnavailable) -> Response:
        g.outcome = "FLOWMACHINE_UNAVAILABLE"
        state().debug_log.warning(
            "FlowMachine unavailable: %s", exc.detail, extra={"request_id": request_id()}
        )
        body = Reply.error(exc.msg, exc.payload).as_dict()  # FlowKit's envelope, as the HTTP body
        return json_response(body, 503, {"Retry-After": str(exc.retry_after)})

    @app.errorhandler(MalformedReply)
    async def malformed_reply(exc: MalformedReply) -> Response:
        g.outcome = "FLOWMACHINE_BAD_REPLY"
        error = internal_error("Bad reply from FlowMachine.", 502, exc=exc, outcome=g.outcome)
        return json_response(error.body, error.status_code)

    @app.errorhandler(OSError)
    @app.errorhandler(asyncpg.exceptions.InterfaceError)
    @app.errorhandler(asyncpg.exceptions.CannotConnectNowError)
    async def flowdb_unavailable(exc: Exception) -> Response:
        g.outcome = "FLOWDB_UNAVAILABLE"
        error = internal_error("FlowDB is not available.", 503, exc=exc, outcome=g.outcome)
        return json_response(error.body, 503, {"Retry-After": str(DEFAULT_RETRY_AFTER)})

    @app.errorhandler(HTTPException)
    async def http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        g.outcome = f"http_{status}"
        response = json_response({"status": "error", "msg": exc.description or exc.name}, status)
        valid_methods = getattr(exc, "valid_methods", None)
        if valid_methods:
            response.headers["Allow"] = ", ".join(valid_methods)
        return response

    @app.errorhandler(Exception)
    async def unexpected(exc: Exception) -> Response:
        g.outcome = "internal_error"
        error = internal_error("Internal server error.", exc=exc)
        return json_response(error.body, 500)
