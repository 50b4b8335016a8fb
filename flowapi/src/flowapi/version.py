"""FlowAPI's version: the installed distribution's, or `0+unknown` in a source tree never installed."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("flowapi")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"
