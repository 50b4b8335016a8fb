"""Which failures are transient (worth trying again), and how long and how often FlowMachine tries.

Transient: FlowDB or Redis out of reach for a while (a restart, a lost connection, a connection FlowDB closed,
too many connections, no pool connection in time). A query that meets one is tried again with growing pauses
until it succeeds or `Settings.transient_retry_seconds` have passed; if it still fails, it ends errored and
*retryable*: submitting it again runs it again instead of replaying the error.

Not transient: what the query itself asks for and will ask for again: a statement cancelled (by a user, or by
FlowDB's `statement_timeout`), more temporary disk than `temp_file_limit` allows, invalid SQL, missing data.
"""

from __future__ import annotations

import logging
import time
import uuid

import psycopg
import redis
from psycopg import errors as pg_errors
from psycopg_pool import PoolTimeout, TooManyRequests

from flowmachine.core.errors import FlowMachineError

log = logging.getLogger(__name__)

# SQLSTATE classes and codes of FlowDB failures that say nothing about the query: 08 connection exceptions,
# 57P01-57P05 shutdowns and idle/session terminations (not 57014, a cancelled statement), 53300 too many
# connections, 40 transaction rollbacks (serialisation failures, deadlocks).
_TRANSIENT_SQLSTATE_CLASSES = ("08", "40")
_TRANSIENT_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "57P04", "57P05", "53300"})


class ClaimLost(Exception):
    """A query this process was computing is no longer recorded as ours (Redis lost its data meanwhile)."""


def is_transient(exc: BaseException) -> bool:
    """True if `exc` is FlowDB or Redis being out of reach, not something the query itself caused."""
    if isinstance(exc, PoolTimeout | TooManyRequests | ClaimLost):
        return True
    if isinstance(exc, redis.ConnectionError | redis.TimeoutError | redis.BusyLoadingError):
        return True
    if isinstance(exc, redis.ResponseError) and str(exc).startswith(("LOADING", "MASTERDOWN")):
        return True
    if isinstance(exc, psycopg.Error):
        state = getattr(exc, "sqlstate", None)
        if state is None:  # no answer from the server at all: the connection broke or never opened
            return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)
        return state in _TRANSIENT_SQLSTATES or state[:2] in _TRANSIENT_SQLSTATE_CLASSES
    return False


def unavailable_service(exc: BaseException) -> str | None:
    """The service (`redis` or `flowdb`) `exc` says is out of reach, else None."""
    if not is_transient(exc):
        return None
    return "redis" if isinstance(exc, redis.RedisError | ClaimLost) else "flowdb"


def describe_failure(exc: BaseException) -> str:
    """One line on why a query failed, for its state message (which clients see): plain words for FlowDB's
    resource limits; FlowMachine's own errors and data exceptions as class and first line; anything else (SQL
    that refers to a missing table, a bug) as a reference to the log, where the details go."""
    if isinstance(exc, pg_errors.QueryCanceled):
        if "statement timeout" in str(exc):
            return (
                "the query took longer than FlowDB allows one statement (statement_timeout); "
                "ask the administrator, or narrow the query"
            )
        return "the query was cancelled by the database"
    if isinstance(exc, pg_errors.ConfigurationLimitExceeded) and "temp_file_limit" in str(exc):
        return (
            "the query needed more temporary disk space than FlowDB allows one statement "
            "(temp_file_limit); ask the administrator, or narrow the query"
        )
    if isinstance(exc, pg_errors.DiskFull):
        return "FlowDB's disk is full"
    text = str(exc).strip().splitlines()
    first = text[0] if text else type(exc).__name__
    state = getattr(exc, "sqlstate", None) or ""
    if isinstance(exc, FlowMachineError) or state.startswith("22") or is_transient(exc):
        # ours, a data exception (division by zero, a value out of range) or a service out of reach
        return f"{type(exc).__name__}: {first}"
    # anything else is FlowMachine's or FlowDB's own trouble: its text (table names, SQL) stays in the log
    reference = uuid.uuid4().hex[:12]
    log.error("internal failure %s: %s: %s", reference, type(exc).__name__, first)
    return f"the query failed inside FlowMachine or FlowDB (reference {reference} in FlowMachine's log)"


class Backoff:
    """Pauses between tries after transient failures: 0.25 s doubling to 5 s, until `budget` seconds after the
    first failure. `pause(exc)` sleeps and returns True while there is time left, else False."""

    def __init__(self, budget: float, *, first: float = 0.25, longest: float = 5.0) -> None:
        self.budget = budget
        self.first = first
        self.longest = longest
        self._deadline: float | None = None
        self._next = first
        self.failures = 0

    def pause(self, exc: BaseException, what: str = "") -> bool:
        now = time.monotonic()
        if self._deadline is None:
            self._deadline = now + self.budget
        self.failures += 1
        left = self._deadline - now
        if left <= 0:
            return False
        wait = min(self._next, left)
        self._next = min(self._next * 2, self.longest)
        log.warning(
            "%s: %s (transient; trying again in %.2f s)",
            what or "FlowDB or Redis out of reach",
            describe_failure(exc),
            wait,
        )
        time.sleep(wait)
        return True
