"""FlowAPI: the HTTP API of the FlowKit platform (Quart), in front of the FlowMachine ZeroMQ server.

    from flowapi import Settings, create_app
    app = create_app(Settings.from_env())

See docs/flowapi.md for routes, settings, tokens and scopes.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("flowapi")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

from flowapi.app import create_app
from flowapi.settings import Settings, SettingsError

__all__ = ["Settings", "SettingsError", "__version__", "create_app"]
