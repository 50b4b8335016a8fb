"""FlowMachine's settings, read from FlowKit's environment variables once and passed around explicitly.

A file `/run/secrets/<NAME>` (a Docker secret) wins over the environment variable of the same name, as in
FlowKit's deployments.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from flowkit_protocol.docker_secrets import SECRETS_DIR
from flowkit_protocol.docker_secrets import lookup as _lookup
from flowmachine.core.errors import FlowMachineError


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise FlowMachineError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise FlowMachineError(f"{name} must be at least {minimum}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise FlowMachineError(f"{name} must be a number, got {raw!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise FlowMachineError(f"{name} must be a positive number, got {raw!r}")
    return value


# How top-level aggregates are released (FLOWMACHINE_RELEASE_MODE): k-anonymity redaction (FlowKit's), or
# differential privacy (issue 21; `flowmachine.core.dp`).
RELEASE_MODES = ("redaction", "differential_privacy")


def _release_mode(env: Mapping[str, str]) -> str:
    raw = env.get("FLOWMACHINE_RELEASE_MODE", "").strip() or "redaction"
    if raw not in RELEASE_MODES:
        raise FlowMachineError(
            f"FLOWMACHINE_RELEASE_MODE must be one of {', '.join(RELEASE_MODES)}, got {raw!r}"
        )
    return raw


@dataclass(frozen=True)
class Settings:
    flowdb_host: str = "localhost"
    flowdb_port: int = 9000
    flowdb_user: str = "flowmachine"
    flowdb_password: str = "foo"
    flowdb_database: str = "flowdb"
    pool_size: int = 5
    pool_overflow: int = 1
    redis_host: str = "localhost"
    redis_port: int = 6379
    redis_password: str | None = None
    # How long a process's claim on an executing query lives without a heartbeat (seconds).
    owner_lease_seconds: int = 30
    # How many independent dependencies of one query are computed at once (each on its own connection).
    dependency_workers: int = 2
    # How long a query keeps trying while FlowDB or Redis is out of reach before it ends errored (retryable).
    transient_retry_seconds: int = 300
    # `redaction` (default: FlowKit's >15 rule) or `differential_privacy` (noisy counts, see core/dp).
    release_mode: str = "redaction"
    # Differential privacy: the largest epsilon one query may ask for; how many units (or pairs, (cell, period)
    # pairs) a subscriber is counted in at most, and how many of a subscriber's events are counted at most.
    dp_max_epsilon: float = 10.0
    dp_max_units_per_subscriber: int = 3
    dp_max_events_per_subscriber: int = 20
    # The most rows one differentially private release may have (every unit x period is published).
    dp_max_release_rows: int = 1_000_000

    @property
    def differential_privacy(self) -> bool:
        return self.release_mode == "differential_privacy"

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, secrets_dir: Path | None = SECRETS_DIR
    ) -> Settings:
        env = os.environ if env is None else env

        def secret(name: str) -> str | None:
            return _lookup(env, name, secrets_dir)

        return cls(
            flowdb_host=env.get("FLOWDB_HOST") or "localhost",
            flowdb_port=_int(env, "FLOWDB_PORT", 9000, 1),
            flowdb_user=secret("FLOWMACHINE_FLOWDB_USER") or "flowmachine",
            flowdb_password=secret("FLOWMACHINE_FLOWDB_PASSWORD") or "foo",
            flowdb_database=env.get("FLOWDB_DATABASE") or "flowdb",
            pool_size=_int(env, "DB_CONNECTION_POOL_SIZE", 5, 1),
            pool_overflow=_int(env, "DB_CONNECTION_POOL_OVERFLOW", 1, 0),
            redis_host=env.get("REDIS_HOST") or "localhost",
            redis_port=_int(env, "REDIS_PORT", 6379, 1),
            redis_password=secret("REDIS_PASSWORD"),
            owner_lease_seconds=_int(env, "FLOWMACHINE_OWNER_LEASE_SECONDS", 30, 2),
            dependency_workers=_int(
                env, "FLOWMACHINE_DEPENDENCY_WORKERS", max(1, min(os.cpu_count() or 1, 4)), 1
            ),
            transient_retry_seconds=_int(env, "FLOWMACHINE_TRANSIENT_RETRY_SECONDS", 300, 0),
            release_mode=_release_mode(env),
            dp_max_epsilon=_float(env, "FLOWMACHINE_DP_MAX_EPSILON", 10.0),
            dp_max_units_per_subscriber=_int(env, "FLOWMACHINE_DP_MAX_UNITS_PER_SUBSCRIBER", 3, 1),
            dp_max_events_per_subscriber=_int(
                env, "FLOWMACHINE_DP_MAX_EVENTS_PER_SUBSCRIBER", 20, 1
            ),
            dp_max_release_rows=_int(env, "FLOWMACHINE_DP_MAX_RELEASE_ROWS", 1_000_000, 1),
        )

    def conninfo(self, application_name: str = "flowmachine") -> str:
        from psycopg.conninfo import make_conninfo

        return make_conninfo(
            host=self.flowdb_host,
            port=self.flowdb_port,
            user=self.flowdb_user,
            password=self.flowdb_password,
            dbname=self.flowdb_database,
            application_name=application_name,
        )
