"""Taking results out of the cache: cancelling a running query, invalidating a result (and its dependents),
and evicting the lowest-scoring results until the cache fits its size (`flowmachine cache shrink`).

A result is dropped only after its state moved to resetting in the Redis state machine, so no process computes or
adopts it meanwhile; its table is dropped under a short lock timeout, so a result being read is kept.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from psycopg import errors as pg_errors

from flowmachine.core.cache_tables import drop_result
from flowmachine.core.db_values import first_value
from flowmachine.core.state import IN_FLIGHT, QueryEvent, QueryState

if TYPE_CHECKING:
    from flowmachine.core.context import Context

log = logging.getLogger(__name__)

# The states from which a result may be dropped: reset moves the first three to resetting (so no process
# computes or adopts the result meanwhile); known is a table whose state was lost (Redis restarted).
_EVICTABLE_STATES = (
    QueryState.COMPLETED,
    QueryState.ERRORED,
    QueryState.CANCELLED,
    QueryState.KNOWN,
)


def cancel(ctx: Context, query_id: str) -> bool:
    """Cancel a queued or running query; its SQL is stopped and nothing of it remains. True if cancelled."""
    cancelled, _ = ctx.states.trigger(query_id, QueryEvent.CANCEL)
    if not cancelled:
        return False
    pid = ctx.states.info(query_id).pid
    if pid is not None:
        with ctx.pool.connection() as conn:
            conn.execute("SELECT pg_cancel_backend(%s)", (pid,))
    return True


def invalidate(ctx: Context, query_id: str, *, cascade: bool = True) -> None:
    """Drop a query's cache table and metadata and return it to known (and its dependents, with cascade)."""
    states = ctx.states
    state = states.state(query_id)
    if state in (QueryState.QUEUED, QueryState.EXECUTING):
        cancel(ctx, query_id)
    while True:
        state = states.state(query_id)
        if state in IN_FLIGHT:
            state = states.wait_while_in_flight(query_id)
            continue
        if state is QueryState.KNOWN:
            # FlowKit's reset is a no-op from known (its issue #6484); a table may still be there.
            dependents = drop_result(ctx, query_id)
            break
        reset, _ = states.trigger(query_id, QueryEvent.RESET, owner=ctx.owner)
        if reset:
            try:
                dependents = drop_result(ctx, query_id)
            finally:
                states.trigger(query_id, QueryEvent.FINISH_RESETTING)
            break
    if cascade:
        for dependent in dependents:
            invalidate(ctx, dependent, cascade=True)


def shrink_below_size(
    ctx: Context,
    size_threshold: int | None = None,
    *,
    protected_period: int | None = None,
    read_grace_seconds: int = 60,
    dry_run: bool = False,
    time_limit: float | None = None,
) -> list[str]:
    """Evict the lowest-scoring results until the cache is at most `size_threshold` bytes.

    The defaults come from FlowDB's cache config (`cache_size`, `cache_protected_period`). Results created within
    the protected period, read within `read_grace_seconds` (a reader may be about to fetch them), or locked by a
    running reader are kept, and so are results being computed or reset (their state is not completed, errored
    or cancelled in Redis). After `time_limit` seconds no more are evicted (the rest waits for the next run).
    Returns the evicted (or, with dry_run, the would-be evicted) query ids.
    """
    deadline = None if time_limit is None else time.monotonic() + time_limit
    with ctx.pool.connection() as conn:
        threshold = (
            size_threshold
            if size_threshold is not None
            else first_value(conn.execute("SELECT public.cache_max_size()"))
        )
        protected = (
            protected_period
            if protected_period is not None
            else first_value(conn.execute("SELECT public.cache_protected_period()"))
        )
        rows = conn.execute(
            """SELECT query_id, size,
                      now() - created > make_interval(secs => %s)
                      AND now() - last_accessed > make_interval(secs => %s) AS evictable
               FROM (SELECT *, coalesce(public.table_size(tablename, schema), 0) AS size
                     FROM cache.cached WHERE schema = 'cache') c
               ORDER BY public.cache_score(cache_score_multiplier, compute_time, greatest(size, 1e-5)),
                        query_id""",
            (protected, read_grace_seconds),
        ).fetchall()
    total = sum(size for _, size, _ in rows)
    evicted: list[str] = []
    for query_id, size, evictable in rows:
        if threshold is None or total <= threshold:
            break
        if deadline is not None and time.monotonic() > deadline:
            log.warning(
                "cache shrink stopped after %ss; %d bytes over", time_limit, total - threshold
            )
            break
        if not evictable:
            continue
        if dry_run:
            if ctx.states.state(query_id) not in _EVICTABLE_STATES:
                continue
        else:
            try:
                _evict(ctx, query_id)
            except pg_errors.LockNotAvailable:
                log.info("cache table of %s is being read; kept", query_id)
                continue
        evicted.append(query_id)
        total -= size
    return evicted


def _evict(ctx: Context, query_id: str) -> None:
    states = ctx.states
    reset, state = states.trigger(query_id, QueryEvent.RESET, owner=ctx.owner)
    if not reset and state is not QueryState.KNOWN:
        raise pg_errors.LockNotAvailable(f"query {query_id} is {state}")
    try:
        drop_result(ctx, query_id, lock_timeout_ms=100)
    finally:
        if reset:
            states.trigger(query_id, QueryEvent.FINISH_RESETTING)
