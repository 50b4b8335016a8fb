"""The JSON API's blueprints (docs/flowauth.md lists every route); each module exposes `bp`.

Views stay thin: they read the request (`flowauth.payload`), call the domain modules beside them
(`minting`, `two_factor`, `throttle`, `accounts`, `api_spec`) and answer in FlowKit's shapes (`flowauth.shapes`).
"""

from __future__ import annotations

from flask import current_app

from flowauth.state import FlowAuthState


def state() -> FlowAuthState:
    """The running app's settings, database and secret box."""
    return current_app.extensions["flowauth"]
