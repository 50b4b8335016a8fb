"""The app factory: `create_app(settings)` builds a Quart app with its own FlowMachine client and FlowDB pool.

The factory only assembles: per-app state (`state.AppState`, under `app.extensions["flowapi"]`), the
blueprints of `routes`, the per-request record and its access-log line (`request_record`), the security
headers (`headers`) and the error handlers (`error_handlers`). Imports go one way: this module imports the
routes, the routes import the request helpers, and nothing imports this module but `flowapi` and `main`.
"""

from __future__ import annotations

from quart import Quart, Response

from flowapi import request_record
from flowapi.error_handlers import register_error_handlers
from flowapi.headers import add_security_headers
from flowapi.routes import API_PREFIX
from flowapi.routes.data import bp as data_bp
from flowapi.routes.qa import bp as qa_bp
from flowapi.routes.query import bp as query_bp
from flowapi.routes.spec import bp as spec_bp
from flowapi.settings import Settings
from flowapi.state import EXTENSION, AppState


def create_app(settings: Settings) -> Quart:
    """A FlowAPI app for `settings`; it connects to FlowMachine and FlowDB on first use."""
    app = Quart("flowapi")
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        RESPONSE_TIMEOUT=None,  # results stream for as long as they take
        JSON_SORT_KEYS=False,
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app_state = AppState.from_settings(settings)
    app.extensions[EXTENSION] = app_state
    for blueprint in (query_bp, data_bp, qa_bp, spec_bp):
        app.register_blueprint(blueprint, url_prefix=API_PREFIX)

    @app.route("/")
    async def root() -> Response:
        return Response("", status=200)

    @app.before_serving
    async def fetch_spec_early() -> None:
        app_state.specs.refresh()  # in the background: serving starts at once

    @app.before_request
    async def start_request() -> None:
        request_record.begin()

    @app.after_request
    async def finish_request(response: Response) -> Response:
        add_security_headers(response.headers)
        request_record.log_access(response, app_state.access_log)
        return response

    register_error_handlers(app)

    @app.after_serving
    async def close_connections() -> None:
        await app_state.close()

    return app
