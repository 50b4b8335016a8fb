"""FlowMachine's FlowDB connections: a pool no thread can starve, and a bounded number of computing statements.

Two rules make the pool's size a matter of speed, never of success (FlowKit's "flows above normal" example
failed with PoolTimeout on five queries and a pool of 5 + 1 connections):

1. A thread holds at most one connection at a time, and holds it only while it talks to FlowDB. Composing a
   query's SQL looks things up (is a dependency stored? which tables have data?), each lookup on a connection of
   its own taken and given back at once; the statement that computes the query takes its connection only once
   its text is complete. `connection()` refuses a second connection to a thread that holds one
   (`NestedConnectionError`): that is how N threads each holding one connection and waiting for another used
   up the pool.
2. At most `compute_slots` statements compute queries at once (`computing()`); a query waiting for a slot
   holds no connection and reads as queued. The pool has at least one connection more than there are slots,
   so lookups, bookkeeping and the API's actions always find one.

Connections are checked when taken from the pool, so a connection FlowDB closed (a restart, an administrator's
`pg_terminate_backend`) is replaced, never handed out; dead ones are skipped at once, one after another.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg_pool import ConnectionPool

# Seconds a thread waits for a pooled connection before PoolTimeout.
POOL_TIMEOUT_SECONDS = 5.0


class NestedConnectionError(RuntimeError):
    """A thread asked for a second FlowDB connection while holding one (a programming error)."""


class FlowDBConnections:
    """The pool of one FlowMachine process, with the one-connection-per-thread rule and the compute slots."""

    def __init__(
        self, conninfo: str, *, compute_slots: int, spare: int, name: str = "flowmachine"
    ) -> None:
        self.compute_slots = max(1, compute_slots)
        self.max_size = self.compute_slots + max(1, spare)
        self.pool = ConnectionPool(
            conninfo,
            min_size=1,
            max_size=self.max_size,
            kwargs={"autocommit": True},
            open=False,
            # No wait for a connection is long: statements compute on slots with a connection each to
            # spare, lookups take milliseconds. A longer wait means FlowDB is out of reach, which callers
            # treat as transient (computations try again; actions answer "unavailable" within FlowAPI's wait).
            timeout=POOL_TIMEOUT_SECONDS,
            name=name,
        )
        self._slots = threading.BoundedSemaphore(self.compute_slots)
        self._held = threading.local()

    def open(self, timeout: float) -> None:
        self.pool.open(wait=True, timeout=timeout)

    def close(self) -> None:
        self.pool.close()

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """A connection for this thread alone, given back when the block ends; never two at once."""
        if getattr(self._held, "conn", False):
            raise NestedConnectionError(
                "this thread already holds a FlowDB connection: compose SQL and look things up before "
                "taking the connection that runs it"
            )
        self._held.conn = True
        try:
            conn = self._working_connection()
            try:
                with conn:  # commits, or rolls back on an exception, as the pool's own context does
                    yield conn
            finally:
                self.pool.putconn(conn)
        finally:
            self._held.conn = False

    def _working_connection(self) -> psycopg.Connection:
        """A pooled connection that answers (an empty statement, one round trip). One FlowDB closed is given
        back, so the pool drops it and opens another, and the next is tried at once: a restart can leave every
        idle connection dead, and the pool's own check would pause longer after each (past its 30 s)."""
        failure: psycopg.Error | None = None
        for _ in range(self.max_size + 1):
            conn = self.pool.getconn()
            try:
                conn.execute("")
                return conn
            except psycopg.Error as exc:
                failure = exc
                self.pool.putconn(conn)
        assert failure is not None
        raise failure

    @contextmanager
    def computing(self) -> Iterator[None]:
        """One of the `compute_slots`: held by a thread computing a query, from before its state reads
        executing until it is stored. Waiting for it holds no connection; a thread holds at most one (a query's
        statement is composed, and whatever composing computes is computed, before its slot is taken)."""
        if getattr(self._held, "slot", False):
            raise NestedConnectionError("this thread already holds a compute slot")
        with self._slots:
            self._held.slot = True
            try:
                yield
            finally:
                self._held.slot = False

    def holds_connection(self) -> bool:
        return bool(getattr(self._held, "conn", False))
