"""Typed FlowETL settings from the environment (documented in docs/admin-guide.md), read only when asked."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import psycopg

from flowdb.errors import FlowDBError
from flowdb.settings import DEV_ROLE_PASSWORD, FLOWETL_ROLE, SECRETS_DIR, env_int, read_secret
from flowetl.errors import ConfigError


@dataclass(frozen=True)
class Settings:
    flowdb_host: str = "127.0.0.1"
    flowdb_port: int = 9000
    flowdb_user: str = FLOWETL_ROLE
    flowdb_password: str = DEV_ROLE_PASSWORD
    # FlowKit's postgres_etl pool: heavy steps running at once across every load (a Prefect concurrency limit)
    pool_slots: int = 4

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, secrets_dir: Path | None = SECRETS_DIR
    ) -> Settings:
        env = dict(os.environ if env is None else env)
        for name in ("FLOWETL_FLOWDB_USER", "FLOWETL_FLOWDB_PASSWORD"):
            secret = read_secret(name, secrets_dir)
            if secret is not None:
                env[name] = secret
        try:
            port = env_int(env, "FLOWDB_PORT", 9000, minimum=1)
            slots = env_int(env, "FLOWETL_PG_POOL_SLOT_COUNT", 4, minimum=1)
        except FlowDBError as exc:
            raise ConfigError(str(exc)) from None
        return cls(
            flowdb_host=env.get("FLOWDB_HOST") or "127.0.0.1",
            flowdb_port=port,
            flowdb_user=env.get("FLOWETL_FLOWDB_USER") or FLOWETL_ROLE,
            flowdb_password=env.get("FLOWETL_FLOWDB_PASSWORD") or DEV_ROLE_PASSWORD,
            pool_slots=slots,
        )

    def connect(self) -> psycopg.Connection:
        """An autocommit connection as FlowETL's role (what every step expects)."""
        return psycopg.connect(
            host=self.flowdb_host,
            port=self.flowdb_port,
            user=self.flowdb_user,
            password=self.flowdb_password,
            dbname="flowdb",
            autocommit=True,
            application_name="flowetl",
        )
