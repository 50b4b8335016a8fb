"""Typed FlowDB settings read from FlowKit's environment variables.

Nothing here reads the environment at import time: callers build a `Settings` with `Settings.from_env()` and
pass it on explicitly. A file `/run/secrets/<NAME>` (a Docker secret) wins over the environment variable of the
same name for the role names and passwords, as in FlowKit's deployments.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from flowdb.errors import FlowDBError
from flowkit_protocol.docker_secrets import SECRETS_DIR, read_secret

DEV_SUPERUSER_PASSWORD = "flowflow"
DEV_ROLE_PASSWORD = "foo"
DATABASE = "flowdb"
FLOWMACHINE_ROLE = "flowmachine"
# FlowETL's login role, and the NOLOGIN role owning the partitioned event tables (FlowETL is a member: PostgreSQL
# lets only a parent's owner attach or drop its partitions).
FLOWETL_ROLE = "flowetl"
EVENTS_OWNER_ROLE = "events_owner"
# The settings a Docker secret may provide (each file named after its variable).
SECRET_NAMES = (
    "POSTGRES_USER",
    "POSTGRES_PASSWORD",
    "FLOWMACHINE_FLOWDB_PASSWORD",
    "FLOWAPI_FLOWDB_USER",
    "FLOWAPI_FLOWDB_PASSWORD",
    "FLOWETL_FLOWDB_PASSWORD",
)
# PostgreSQL's listen_addresses: host names, IP addresses, `*`, separated by commas.
_LISTEN_ADDRESSES = re.compile(r"^\s*[\w.:*%-]+(\s*,\s*[\w.:*%-]+)*\s*$")
# A PostgreSQL size in PostgreSQL's units (temp_file_limit): 512MB, 10GB, 2TB, 800kB.
_PG_SIZE = re.compile(r"^(\d+)\s*(kB|MB|GB|TB)$", re.IGNORECASE)


def env_int(env: Mapping[str, str], name: str, default: int, *, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise FlowDBError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise FlowDBError(f"{name} must be at least {minimum}, got {value}")
    return value


def env_pg_size(env: Mapping[str, str], name: str) -> str | None:
    """A size such as 10GB (or -1: no limit) from `name`, as PostgreSQL spells it; None if unset."""
    raw = (env.get(name) or "").strip()
    if not raw:
        return None
    if raw == "-1":
        return raw
    match = _PG_SIZE.match(raw)
    if match is None or int(match[1]) < 1:
        raise FlowDBError(
            f"{name} must be a size such as 512MB or 10GB (or -1: no limit), got {raw!r}"
        )
    unit = {"kb": "kB", "mb": "MB", "gb": "GB", "tb": "TB"}[match[2].lower()]
    return f"{int(match[1])}{unit}"


# Names and addresses of this machine (a server listening on, or reached at, one of them is local).
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class Settings:
    """Where the cluster lives, how to reach it, and the credentials of its roles."""

    data_dir: Path
    port: int = 9000
    host: str = "127.0.0.1"
    # Where the server listens: loopback only, unless a container sets FLOWDB_LISTEN_ADDRESSES (e.g. `*`).
    listen_addresses: str = "127.0.0.1"
    superuser: str = "flowdb"
    superuser_password: str = DEV_SUPERUSER_PASSWORD
    flowmachine_password: str = DEV_ROLE_PASSWORD
    flowapi_user: str = "flowapi"
    flowapi_password: str = DEV_ROLE_PASSWORD
    flowetl_password: str = DEV_ROLE_PASSWORD
    os_user: str = "postgres"
    pg_bindir: Path | None = None
    # A prebuilt native generator (flowdb.synthetic.native); unset: built on first use when FlowDB is local.
    synthetic_library: Path | None = None
    cache_size: int | None = None
    cache_half_life: int = 1000
    cache_protected_period: int = 86400
    # What one statement of the flowmachine role may use (ALTER ROLE ... SET, applied at every start):
    # temporary files per process (None: a share of the free disk, see roles.flowmachine_limits) and
    # time in seconds (0: no limit).
    flowmachine_temp_file_limit: str | None = None
    flowmachine_statement_timeout: int = 3600
    env: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, secrets_dir: Path | None = SECRETS_DIR
    ) -> Settings:
        env = dict(os.environ if env is None else env)
        for name in SECRET_NAMES:
            secret = read_secret(name, secrets_dir)
            if secret:  # an empty secret file is no secret
                env[name] = secret
        port = env_int(env, "FLOWDB_PORT", 9000, minimum=1)
        if port > 65535:
            raise FlowDBError(f"FLOWDB_PORT must be between 1 and 65535, got {port}")
        flowapi_user = env.get("FLOWAPI_FLOWDB_USER") or "flowapi"
        if flowapi_user in (
            FLOWMACHINE_ROLE,
            FLOWETL_ROLE,
            EVENTS_OWNER_ROLE,
            env.get("POSTGRES_USER") or "flowdb",
        ):
            raise FlowDBError(
                f"FLOWAPI_FLOWDB_USER must be a role of its own, got {flowapi_user!r}"
            )
        listen = env.get("FLOWDB_LISTEN_ADDRESSES") or "127.0.0.1"
        if not _LISTEN_ADDRESSES.match(listen):
            raise FlowDBError(
                "FLOWDB_LISTEN_ADDRESSES must be addresses or host names separated by commas "
                f"(or *), got {listen!r}"
            )
        cache_size = env.get("CACHE_SIZE")
        return cls(
            data_dir=Path(env.get("FLOWDB_DATA_DIR") or ".flowdb").absolute(),
            port=port,
            host=env.get("FLOWDB_HOST") or "127.0.0.1",
            listen_addresses=",".join(a.strip() for a in listen.split(",")),
            superuser=env.get("POSTGRES_USER") or "flowdb",
            superuser_password=env.get("POSTGRES_PASSWORD") or DEV_SUPERUSER_PASSWORD,
            flowmachine_password=env.get("FLOWMACHINE_FLOWDB_PASSWORD") or DEV_ROLE_PASSWORD,
            flowapi_user=flowapi_user,
            flowapi_password=env.get("FLOWAPI_FLOWDB_PASSWORD") or DEV_ROLE_PASSWORD,
            flowetl_password=env.get("FLOWETL_FLOWDB_PASSWORD") or DEV_ROLE_PASSWORD,
            os_user=env.get("FLOWDB_OS_USER") or "postgres",
            pg_bindir=Path(env["FLOWDB_PG_BINDIR"]) if env.get("FLOWDB_PG_BINDIR") else None,
            synthetic_library=(
                Path(env["FLOWDB_SYNTHETIC_LIBRARY"]).absolute()
                if env.get("FLOWDB_SYNTHETIC_LIBRARY")
                else None
            ),
            cache_size=env_int(env, "CACHE_SIZE", 0) if cache_size else None,
            cache_half_life=env_int(env, "CACHE_HALF_LIFE", 1000, minimum=1),
            cache_protected_period=env_int(env, "CACHE_PROTECTED_PERIOD", 86400),
            flowmachine_temp_file_limit=env_pg_size(env, "FLOWMACHINE_FLOWDB_TEMP_FILE_LIMIT"),
            flowmachine_statement_timeout=env_int(
                env, "FLOWMACHINE_FLOWDB_STATEMENT_TIMEOUT", 3600
            ),
            env=env,
        )

    @property
    def loopback_only(self) -> bool:
        """True if the server accepts TCP connections from this machine only."""
        return all(a in LOOPBACK_HOSTS for a in self.listen_addresses.split(","))

    def role_password(self, role: str) -> str:
        passwords = {
            self.superuser: self.superuser_password,
            FLOWMACHINE_ROLE: self.flowmachine_password,
            self.flowapi_user: self.flowapi_password,
            FLOWETL_ROLE: self.flowetl_password,
        }
        try:
            return passwords[role]
        except KeyError:
            raise FlowDBError(
                f"unknown role {role!r}: choose one of {', '.join(sorted(passwords))}"
            ) from None

    def url(self, role: str | None = None) -> str:
        """A libpq URL for `role` (the superuser by default) over TCP."""
        from urllib.parse import quote

        role = role or self.superuser
        password = quote(self.role_password(role), safe="")
        return f"postgresql://{quote(role, safe='')}:{password}@{self.host}:{self.port}/{DATABASE}"
