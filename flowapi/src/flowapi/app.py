"""The app factory: `create_app(settings)` builds a Quart app with its own FlowMachine client and FlowDB pool.

Per-app state lives in a typed `AppState` under `app.extensions["flowapi"]`; per-request facts (request
id, user, query id, outcome) live on `g` and end up in one JSON access-log line per request.

Errors whose cause is a database, driver or programming failure never show that cause to the client: the
body says what failed in general terms with the request id (also in the `X-Request-ID` header of every
response), and the debug log has the detail under the same id (`internal_error`).
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
from quart import Quart, Response, current_app, g, request
from werkzeug.exceptions import HTTPException

from flowapi.auth import TokenError, User, VerifiedTokens, bearer_token
from flowapi.errors import APIError
from flowapi.headers import add_security_headers
from flowapi.logs import ACCESS_LOGGER, DEBUG_LOGGER
from flowapi.query_facts import QueryFacts
from flowapi.results import ResultStore
from flowapi.settings import Settings
from flowapi.spec_cache import SpecCache, fetch_document
from flowapi.zmq_client import FlowmachineClient, FlowmachineUnavailable
from flowkit_protocol import DEFAULT_RETRY_AFTER, MalformedReply, Reply

API_PREFIX = "/api/0"


@dataclass
class AppState:
    settings: Settings
    flowmachine: FlowmachineClient
    results: ResultStore
    facts: QueryFacts
    tokens: VerifiedTokens
    specs: SpecCache
    access_log: logging.Logger
    debug_log: logging.Logger


def state() -> AppState:
    """The running app's state (inside a request)."""
    return current_app.extensions["flowapi"]  # type: ignore[no-any-return]


def request_id() -> str:
    return str(g.get("request_id") or "-")


def authenticate() -> User:
    """The user of this request's bearer token; raises TokenError (401/422) otherwise."""
    user = state().tokens.user(bearer_token(request.headers.get("Authorization")))
    g.user = user.name
    return user


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


def json_response(body: Any, status: int, headers: dict[str, str] | None = None) -> Response:
    response = current_app.json.response(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def create_app(settings: Settings) -> Quart:
    from flowapi.routes.data import bp as data_bp
    from flowapi.routes.qa import bp as qa_bp
    from flowapi.routes.query import bp as query_bp
    from flowapi.routes.spec import bp as spec_bp

    app = Quart("flowapi")
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        RESPONSE_TIMEOUT=None,  # results stream for as long as they take
        JSON_SORT_KEYS=False,
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    flowmachine = FlowmachineClient(
        settings.flowmachine_endpoint, timeout=settings.zmq_timeout_seconds
    )
    debug_log = logging.getLogger(DEBUG_LOGGER)
    app.extensions["flowapi"] = AppState(
        settings=settings,
        flowmachine=flowmachine,
        results=ResultStore(
            {
                "host": settings.flowdb_host,
                "port": settings.flowdb_port,
                "user": settings.flowdb_user,
                "password": settings.flowdb_password,
                "database": settings.flowdb_database,
            },
            pool_size=settings.db_pool_size,
            chunk_rows=settings.result_chunk_rows,
        ),
        facts=QueryFacts(settings.query_facts_bytes),
        tokens=VerifiedTokens(
            key=settings.public_jwt_signing_key, audience=settings.flowapi_identifier
        ),
        specs=SpecCache(
            lambda: fetch_document(flowmachine, audience=settings.flowapi_identifier),
            refresh_seconds=settings.spec_refresh_seconds,
            log=debug_log,
        ),
        access_log=logging.getLogger(ACCESS_LOGGER),
        debug_log=debug_log,
    )
    for blueprint in (query_bp, data_bp, qa_bp, spec_bp):
        app.register_blueprint(blueprint, url_prefix=API_PREFIX)

    @app.route("/")
    async def root() -> Response:
        return Response("", status=200)

    @app.before_serving
    async def fetch_spec_early() -> None:
        app.extensions["flowapi"].specs.refresh()  # in the background: serving starts at once

    @app.before_request
    async def start_request() -> None:
        g.request_id = str(uuid.uuid4())
        g.started = time.monotonic()
        g.user = None
        g.query_id = None
        g.query_kind = None
        g.outcome = None

    @app.after_request
    async def log_access(response: Response) -> Response:
        add_security_headers(response.headers)
        if g.get("request_id"):
            response.headers["X-Request-ID"] = g.request_id
        app_state: AppState = app.extensions["flowapi"]
        app_state.access_log.info(
            "request",
            extra={
                "request_id": g.get("request_id"),
                "user": g.get("user"),
                "method": request.method,
                "path": request.path,
                "endpoint": request.endpoint,
                "query_id": g.get("query_id"),
                "query_kind": g.get("query_kind"),
                "status": response.status_code,
                "outcome": g.get("outcome") or ("ok" if response.status_code < 400 else "error"),
                "duration_ms": round((time.monotonic() - g.get("started", time.monotonic())) * 1e3),
            },
        )
        return response

    @app.errorhandler(APIError)
    async def api_error(exc: APIError) -> Response:
        g.outcome = exc.outcome
        return json_response(exc.body, exc.status_code)

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

    @app.after_serving
    async def close_connections() -> None:
        app_state: AppState = app.extensions["flowapi"]
        await app_state.specs.close()
        await app_state.results.close()
        app_state.flowmachine.close()

    return app
