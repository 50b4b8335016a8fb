"""FlowAPI: the HTTP API of the FlowKit platform (Quart), in front of the FlowMachine ZeroMQ server.

    from flowapi import Settings, create_app
    app = create_app(Settings.from_env())

See docs/flowapi.md for routes, settings, tokens and scopes.
"""

from __future__ import annotations

from flowapi.app import create_app
from flowapi.settings import Settings, SettingsError
from flowapi.version import __version__

__all__ = ["Settings", "SettingsError", "__version__", "create_app"]
