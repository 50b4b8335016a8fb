"""Versioned schema migrations, applied in order, each in its own transaction, at most once.

A migration is a file `NNNN_name.sql` in `flowdb/migrations/`. `public.schema_migrations` records what has
been applied together with a checksum, so an existing FlowDB is upgraded in place and an edited migration is
refused instead of silently diverging.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

import psycopg

from flowdb.errors import FlowDBError

MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
LOCK_KEY = 0x466C6F77_4442  # "FlowDB": serialises concurrent migrators


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def available_migrations() -> list[Migration]:
    found = []
    for entry in resources.files("flowdb.migrations").iterdir():
        match = MIGRATION_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text()))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise FlowDBError("two migrations share a version number")
    return found


def applied_migrations(conn: psycopg.Connection) -> dict[int, str]:
    conn.execute(
        """CREATE TABLE IF NOT EXISTS public.schema_migrations (
               version    INTEGER PRIMARY KEY,
               name       TEXT NOT NULL,
               checksum   TEXT NOT NULL,
               applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"""
    )
    rows = conn.execute("SELECT version, checksum FROM public.schema_migrations").fetchall()
    return dict(rows)


def migrate(conn: psycopg.Connection, migrations: list[Migration] | None = None) -> list[Migration]:
    """Apply every pending migration; return the ones applied now. `conn` must be a superuser connection."""
    migrations = available_migrations() if migrations is None else migrations
    applied_now = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        done = applied_migrations(conn)
    for migration in migrations:
        if migration.version in done:
            if done[migration.version] != migration.checksum:
                raise FlowDBError(
                    f"migration {migration.version:04d}_{migration.name} was changed after it was applied; "
                    "add a new migration instead of editing an applied one"
                )
            continue
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
            if conn.execute(
                "SELECT 1 FROM public.schema_migrations WHERE version = %s", (migration.version,)
            ).fetchone():
                continue  # another process applied it while we waited for the lock
            conn.execute(migration.sql.encode())
            conn.execute(
                "INSERT INTO public.schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                (migration.version, migration.name, migration.checksum),
            )
        applied_now.append(migration)
    return applied_now
