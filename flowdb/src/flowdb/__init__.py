"""FlowDB: PostgreSQL + PostGIS for CDR analytics, run as a private cluster, with synthetic data."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("flowdb")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

RELEASE_DATE = "2026-11-24"
