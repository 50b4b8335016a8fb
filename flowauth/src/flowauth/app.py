"""The FlowAuth app factory: settings and database passed in, nothing global.

app = create_app(Settings.from_env())            # migrates the database, ensures the admin
app = create_app(settings, database=Database(uri))
"""

from __future__ import annotations

import logging

from flask import Flask

from flowauth import web
from flowauth.crypto import SecretBox
from flowauth.db import Database, close_request_session
from flowauth.errors import register_error_handlers
from flowauth.settings import Settings
from flowauth.state import FlowAuthState  # its home is flowauth.state; still importable from here


def create_app(settings: Settings, *, database: Database | None = None) -> Flask:
    from flowauth import pages
    from flowauth.blueprints import admin, login, roles, servers, tokens, user_settings, users
    from flowauth.bootstrap import ensure_admin

    logging.getLogger("flowauth").setLevel(settings.log_level.upper())
    database = database or Database(settings.db_uri)
    if settings.reset_db:
        database.reset()
    else:
        database.upgrade()
    if settings.admin_username and settings.admin_password:
        ensure_admin(database, settings.admin_username, settings.admin_password)

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 5 * 1024 * 1024  # an OpenAPI spec upload is ~100 kB
    app.extensions["flowauth"] = FlowAuthState(settings, database, SecretBox(settings.fernet_key))
    web.install(app)
    register_error_handlers(app)
    app.teardown_appcontext(close_request_session)
    for module in (login, admin, servers, users, roles, tokens, user_settings, pages):
        app.register_blueprint(module.bp)
    return app


def state(app: Flask) -> FlowAuthState:
    return app.extensions["flowauth"]
