"""Settings helper shared by the components orchestrated with Prefect 3 (FlowETL, AutoFlow): the Prefect
settings they run with unless the operator set them (docs/adr/0010-flowetl-on-prefect.md)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def prefect_environment(home: Path, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Set Prefect's settings in `os.environ` where the operator has not set them (in `env`, default
    `os.environ`): no telemetry (Prefect's server otherwise calls an outside host), Prefect's state under
    `<home>/prefect`, quiet logs, time for the ephemeral API to start on a small machine. Prefect reads them
    when it is imported: call this first. Returns what it set."""
    env = os.environ if env is None else env
    defaults = {
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_HOME": str(home / "prefect"),
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
    }
    chosen = {name: value for name, value in defaults.items() if not env.get(name)}
    os.environ.update(chosen)
    Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
    return chosen
