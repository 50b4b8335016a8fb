"""The run-state table `workflow_runs` (FlowKit's): one row per state change of a (workflow, parameters) run.

Rows are only ever added; the newest row for a (workflow_name, parameters_hash) decides what the sensor does:
`success` or a live `running` -> skip; `failed`, a dead `running`, or nothing -> run. The hash is FlowKit's
(md5 of the parameters as sorted JSON, dates as text), so a FlowKit AutoFlow database can be taken over.

Beyond FlowKit (docs/compatibility.md): each row also keeps the parameters themselves (JSON), the error of a
failed run, and which process owns a running row (host, pid, process start), so `autoflow status` can say
what failed and why, and a `running` row left by a killed process does not block its run for ever: it is
stale when its process is gone (same host) or when it is older than `AUTOFLOW_RUNNING_TIMEOUT`.
Columns missing from an older (FlowKit) table are added at start.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import json
import os
import socket
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Enum,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    Text,
    create_engine,
    event,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Connection
from sqlalchemy.pool import ConnectionPoolEntry

from autoflow.errors import ConfigError

metadata = MetaData()


class RunState(enum.Enum):
    running = 1
    success = 2
    failed = 3


workflow_runs = Table(
    "workflow_runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("workflow_name", String),
    Column("parameters_hash", String),
    # FlowKit's Enum(RunState): the names, as a PostgreSQL enum type `runstate`
    Column("state", Enum(RunState)),
    Column("timestamp", DateTime(timezone=True)),
    # ours
    Column("parameters", Text),
    Column("error", Text),
    Column("owner", String),
)
# Our columns, added to a FlowKit table that lacks them (fixed names and types, never from input).
_ADDED_COLUMNS = {"parameters": "TEXT", "error": "TEXT", "owner": "VARCHAR(255)"}
ERROR_LIMIT = 20000  # characters of an error kept


def parameters_json(parameters: Mapping[str, Any]) -> str:
    """FlowKit's canonical text of a run's parameters: sorted keys, dates (anything not JSON) as str."""
    return json.dumps(parameters, sort_keys=True, default=str)


def parameters_hash(parameters: Mapping[str, Any]) -> str:
    return hashlib.md5(parameters_json(parameters).encode()).hexdigest()


def _process_start(pid: int) -> str | None:
    """The start time of process `pid` (clock ticks since boot, Linux), or None if there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def this_process() -> str:
    """`host:pid:start` naming the running process (its start tells a reused pid apart)."""
    return f"{socket.gethostname()}:{os.getpid()}:{_process_start(os.getpid()) or ''}"


def process_alive(owner: str | None) -> bool | None:
    """Whether the process `owner` names still runs: True/False on this host, None when unknowable."""
    if not owner:
        return None
    host, _, rest = owner.partition(":")
    pid_text, _, start = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit() or not start:
        return None
    return _process_start(int(pid_text)) == start


@dataclass(frozen=True)
class RunRecord:
    id: int
    workflow_name: str
    parameters_hash: str
    state: RunState
    timestamp: dt.datetime
    parameters: dict[str, Any] | None  # None for rows FlowKit wrote
    error: str | None
    owner: str | None

    def stale(self, timeout: int, now: dt.datetime | None = None) -> bool:
        """A `running` row whose process is gone, or older than `timeout` seconds."""
        if self.state is not RunState.running:
            return False
        if process_alive(self.owner) is False:
            return True
        now = now or dt.datetime.now(dt.UTC)
        return (now - self.timestamp).total_seconds() > timeout


def _record(row: Any) -> RunRecord:
    stamp = row.timestamp
    if stamp.tzinfo is None:  # SQLite keeps no zone: stored as UTC
        stamp = stamp.replace(tzinfo=dt.UTC)
    params = json.loads(row.parameters) if row.parameters else None
    return RunRecord(
        row.id,
        row.workflow_name,
        row.parameters_hash,
        row.state,
        stamp,
        params,
        row.error,
        row.owner,
    )


def _newest_first(query: Select[Any]) -> Select[Any]:
    return query.order_by(workflow_runs.c.timestamp.desc(), workflow_runs.c.id.desc())


class RunStore:
    """The `workflow_runs` table in the database at a SQLAlchemy URI (SQLite or PostgreSQL)."""

    def __init__(self, engine: Engine, *, running_timeout: int = 86400) -> None:
        self.engine = engine
        self.running_timeout = running_timeout
        self.owner = this_process()

    @classmethod
    def open(cls, uri: str, *, running_timeout: int = 86400) -> RunStore:
        """Connect, create the table (or add our columns to FlowKit's); ConfigError for a bad URI."""
        try:
            engine = create_engine(uri)
        except (
            Exception
        ) as exc:  # ArgumentError, NoSuchModuleError: a malformed URI or unknown driver
            raise ConfigError(f"AUTOFLOW_DB_URI: {exc}") from None
        if engine.dialect.name == "sqlite":
            path = engine.url.database
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            _sqlite_immediate_transactions(engine)
        store = cls(engine, running_timeout=running_timeout)
        store.create()
        return store

    def create(self) -> None:
        with self.engine.begin() as conn:
            metadata.create_all(conn)
            present = {c["name"] for c in inspect(conn).get_columns("workflow_runs")}
            for name, sql_type in _ADDED_COLUMNS.items():
                if name not in present:
                    conn.execute(text(f"ALTER TABLE workflow_runs ADD COLUMN {name} {sql_type}"))

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _locked(self, workflow_name: str, digest: str) -> Iterator[Connection]:
        """A transaction no other sensor's claim of the same run interleaves with."""
        with self.engine.begin() as conn:
            if self.engine.dialect.name == "postgresql":
                key = int.from_bytes(
                    hashlib.md5(f"{workflow_name}\0{digest}".encode()).digest()[:8],
                    "big",
                    signed=True,
                )
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
            yield conn

    def _latest(self, conn: Connection, workflow_name: str, digest: str) -> RunRecord | None:
        row = conn.execute(
            _newest_first(
                select(workflow_runs).where(
                    workflow_runs.c.workflow_name == workflow_name,
                    workflow_runs.c.parameters_hash == digest,
                )
            ).limit(1)
        ).first()
        return None if row is None else _record(row)

    def latest(self, workflow_name: str, parameters: Mapping[str, Any]) -> RunRecord | None:
        """The newest row of this run, or None if it never ran."""
        with self.engine.connect() as conn:
            return self._latest(conn, workflow_name, parameters_hash(parameters))

    def _insert(
        self,
        conn: Connection,
        workflow_name: str,
        parameters: Mapping[str, Any],
        state: RunState,
        error: str | None,
    ) -> None:
        conn.execute(
            insert(workflow_runs).values(
                workflow_name=workflow_name,
                parameters_hash=parameters_hash(parameters),
                state=state,
                timestamp=dt.datetime.now(dt.UTC),
                parameters=parameters_json(parameters),
                error=None if error is None else error[:ERROR_LIMIT],
                owner=self.owner,
            )
        )

    def claim(
        self, workflow_name: str, parameters: Mapping[str, Any]
    ) -> tuple[bool, RunRecord | None]:
        """Record `running` unless the run succeeded or runs (live) already: (claimed, the newest row seen
        before)."""
        digest = parameters_hash(parameters)
        with self._locked(workflow_name, digest) as conn:
            latest = self._latest(conn, workflow_name, digest)
            if latest is not None and (
                latest.state is RunState.success
                or (latest.state is RunState.running and not latest.stale(self.running_timeout))
            ):
                return False, latest
            self._insert(conn, workflow_name, parameters, RunState.running, None)
            return True, latest

    def record(
        self,
        workflow_name: str,
        parameters: Mapping[str, Any],
        state: RunState,
        error: str | None = None,
    ) -> None:
        """Add a row: the run's new state (with the error of a failed run)."""
        with self.engine.begin() as conn:
            self._insert(conn, workflow_name, parameters, state, error)

    def latest_runs(self, workflow_name: str | None = None) -> list[RunRecord]:
        """The newest row of every run (of one workflow), by workflow then newest first."""
        query = select(workflow_runs)
        if workflow_name is not None:
            query = query.where(workflow_runs.c.workflow_name == workflow_name)
        seen: set[tuple[str, str]] = set()
        out = []
        with self.engine.connect() as conn:
            for row in conn.execute(_newest_first(query)):
                key = (row.workflow_name, row.parameters_hash)
                if key not in seen:
                    seen.add(key)
                    out.append(_record(row))
        return sorted(out, key=lambda r: (r.workflow_name, -r.timestamp.timestamp(), -r.id))

    def history(self, workflow_name: str, parameters: Mapping[str, Any]) -> list[RunRecord]:
        """Every row of one run, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(workflow_runs)
                .where(
                    workflow_runs.c.workflow_name == workflow_name,
                    workflow_runs.c.parameters_hash == parameters_hash(parameters),
                )
                .order_by(workflow_runs.c.timestamp, workflow_runs.c.id)
            )
            return [_record(r) for r in rows]


def _sqlite_immediate_transactions(engine: Engine) -> None:
    """SQLite transactions take the write lock at BEGIN, so two sensors' claims cannot interleave (the
    pysqlite driver's own BEGIN is turned off; SQLAlchemy's documented recipe)."""

    @event.listens_for(engine, "connect")
    def _no_driver_begin(
        dbapi_connection: sqlite3.Connection, _record: ConnectionPoolEntry
    ) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
