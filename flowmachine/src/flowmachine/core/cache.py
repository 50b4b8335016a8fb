"""Computing queries into the cache, reading, invalidating, evicting, and recovering after restarts.

A computed query is a table `cache.x<query_id>` plus a row in `cache.cached` (class, SQL, compute time, size via
`table_size`, access counts and score multiplier maintained by FlowDB's `touch_cache`) and rows in
`cache.dependencies` to the nearest stored queries it was built from. The table, its indexes, its statistics and
its metadata are written in one transaction, so a crash leaves either all of them or none.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, NoReturn

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql
from psycopg.types.json import Jsonb

from flowmachine.core.errors import (
    QueryCancelledError,
    QueryFailedError,
    UnstorableQueryError,
)
from flowmachine.core.orphans import terminate_orphaned_backends
from flowmachine.core.query import CACHE_SCHEMA, Query
from flowmachine.core.query_id import CACHE_FORMAT_VERSION
from flowmachine.core.state import IN_FLIGHT, QueryEvent, QueryState
from flowmachine.core.transient import Backoff, ClaimLost, describe_failure, is_transient

if TYPE_CHECKING:
    from flowmachine.core.context import Context

log = logging.getLogger(__name__)

# ANALYZE of a cache table samples 300 x this many rows: enough for the planner's estimates of what is read
# whole and joined by hash (FlowDB's own target, 1000, samples all of a 2 M-row daily location: 0.8 s).
CACHE_STATISTICS_TARGET = 100

# The planner settings a query class may ask for (`Query.planner_settings`), with the values allowed.
PLANNER_SETTINGS = {"enable_hashagg": {"on", "off"}}


class _Abandoned(Exception):
    """The query left the executing state (it was cancelled) while its SQL ran."""


def table_exists(ctx: Context, table_name: str) -> bool:
    with ctx.pool.connection() as conn:
        return (
            conn.execute(
                "SELECT to_regclass(%s) IS NOT NULL", (f"{CACHE_SCHEMA}.{table_name}",)
            ).fetchone()[0]
            is True
        )


def read_cached(ctx: Context, query: Query) -> bool:
    """True (and the access recorded) if the query is computed and its table is there."""
    if ctx.states.state(query.query_id) is not QueryState.COMPLETED:
        return False
    with ctx.pool.connection() as conn:
        try:
            row = conn.execute(
                "SELECT public.touch_cache(%s) WHERE to_regclass(%s) IS NOT NULL",
                (query.query_id, query.fully_qualified_table_name),
            ).fetchone()
        except pg_errors.RaiseException:  # a table without its metadata row: not ours to serve
            return False
    return row is not None


def stored_dependency_ids(ctx: Context, query: Query) -> list[str]:
    """The nearest stored queries below `query`: descend through unstored ones, stop at stored ones."""
    found: dict[str, None] = {}
    for dep in query.dependencies:
        if dep.storable and dep.is_stored(ctx):
            found[dep.query_id] = None
        else:
            found.update(dict.fromkeys(stored_dependency_ids(ctx, dep)))
    return list(found)


def _dependency_levels(query: Query) -> list[list[Query]]:
    """The storable queries below `query` by height: those resting on no stored query first, then those
    resting only on the first, and so on. Queries of one level never depend on each other."""
    height: dict[str, int] = {}  # the number of storable queries on the longest chain below

    def level_of(q: Query) -> int:
        if q.query_id not in height:
            height[q.query_id] = max(
                (level_of(d) + 1 if d.storable else level_of(d) for d in q.dependencies), default=0
            )
        return height[q.query_id]

    levels: list[list[Query]] = []
    for dep in storable_dependencies(query):
        level = level_of(dep)
        while len(levels) <= level:
            levels.append([])
        levels[level].append(dep)
    return [level for level in levels if level]


def storable_dependencies(query: Query) -> list[Query]:
    """Every storable query below `query`, deepest first (each once)."""
    ordered: dict[str, Query] = {}

    def visit(q: Query) -> None:
        for dep in q.dependencies:
            visit(dep)
            if dep.storable:
                ordered.setdefault(dep.query_id, dep)

    visit(query)
    return list(ordered.values())


def compute(ctx: Context, query: Query, *, store_dependencies: bool = True) -> Query:
    """Make sure `query` is computed into its cache table; exactly one process computes it.

    Raises QueryFailedError if it (or a dependency) failed, QueryCancelledError if it was cancelled.
    """
    if not query.storable:
        raise UnstorableQueryError(f"{type(query).__name__} queries are never stored on their own")
    if store_dependencies:
        compute_dependencies(ctx, query)
    return _compute_one(ctx, query)


def compute_dependencies(
    ctx: Context, query: Query, *, stop_if: Callable[[], bool] | None = None
) -> None:
    """Store every storable query below `query`, level by level; a level's queries run side by side on up
    to `dependency_workers` connections (seven daily locations of a modal location use every core).

    `stop_if` is asked before each level: when it says so, QueryCancelledError (dependencies already
    computed or under way by then complete and stay cached)."""
    width = ctx.settings.dependency_workers
    for level in _dependency_levels(query):
        if stop_if is not None and stop_if():
            raise QueryCancelledError(f"query {query.query_id} was cancelled")
        if width <= 1 or len(level) == 1:
            for dep in level:
                _compute_one(ctx, dep)
            continue
        with ThreadPoolExecutor(
            max_workers=min(width, len(level)), thread_name_prefix="flowmachine-deps"
        ) as pool:
            for future in [pool.submit(_compute_one, ctx, dep) for dep in level]:
                future.result()


def shared_dependencies(query: Query) -> set[str]:
    """The query ids of the storable queries below `query` that its SQL would reach along two or more paths:
    left unstored, each would be inlined, and computed, once per path.

    Counted top down over the distinct queries (no enumeration of paths): a query's SQL appears as often as
    its parents' SQL does, except that a query stored first (shared, or `store_first`) appears once, in its
    own statement, so what lies below it is counted once through it."""
    below_first: list[Query] = []  # every distinct query, each after all the queries above it
    seen: set[str] = set()

    def visit(q: Query) -> None:
        seen.add(q.query_id)
        for dep in q.dependencies:
            if dep.query_id not in seen:
                visit(dep)
        below_first.append(q)

    visit(query)
    times: Counter[str] = Counter({query.query_id: 1})
    shared: set[str] = set()
    for q in reversed(below_first):
        appears = times[q.query_id]
        if q is not query and q.storable and (appears > 1 or q.store_first):
            if appears > 1:
                shared.add(q.query_id)
            appears = 1
        for dep in q.dependencies:
            times[dep.query_id] += appears
    return shared


def dependencies_before_answer(query: Query) -> list[Query]:
    """The storable queries below `query` that `compute_answer` stores first (deepest first): those marked
    `store_first` (the cell mappings) and those the answer would otherwise compute more than once."""
    shared = shared_dependencies(query)
    return [
        dep for dep in storable_dependencies(query) if dep.store_first or dep.query_id in shared
    ]


def prepare_answer(
    ctx: Context, query: Query, *, stop_if: Callable[[], bool] | None = None
) -> None:
    """Make ready what `compute_answer` reads: store `dependencies_before_answer` (the cell mappings, and any
    dependency the answer reaches along two paths, which inlined would be computed twice) and wait for those
    some process is computing right now (their tables are then read, not recomputed).
    `stop_if` is asked before each dependency: when it says so, QueryCancelledError."""
    first = {dep.query_id for dep in dependencies_before_answer(query)}
    for dep in storable_dependencies(query):
        if stop_if is not None and stop_if():
            raise QueryCancelledError(f"query {query.query_id} was cancelled")
        if dep.query_id in first:
            _compute_one(ctx, dep)
        elif ctx.states.state(dep.query_id) in IN_FLIGHT:
            ctx.states.wait_while_in_flight(dep.query_id)


def compute_answer(ctx: Context, query: Query) -> Query:
    """Compute `query` into its cache table as soon as possible; exactly one process computes it.

    After `prepare_answer`, every unstored dependency is inlined into the query's own SQL, which PostgreSQL
    runs as one statement on every core. Storing those dependencies too (`compute_dependencies`) is left to
    the caller, for when nothing waits on it: done first, it costs about as much again as the answer itself
    (bench/RESULTS.md, docs/adr/0007-answer-first.md).
    """
    prepare_answer(ctx, query)
    return compute(ctx, query, store_dependencies=False)


@dataclass
class _Claim:
    """Whether this call of `_compute_one` holds the query's queued/executing claim, to give back after a
    transient failure (only the thread that took a claim may give it back: the threads of one process share
    its owner token)."""

    held: bool = False


def _compute_one(ctx: Context, query: Query) -> Query:
    """`query` computed by exactly one process; tried again while FlowDB or Redis is out of reach (for up to
    `transient_retry_seconds`), then errored and retryable."""
    backoff = Backoff(ctx.settings.transient_retry_seconds)
    claim = _Claim()
    while True:
        try:
            return _compute_attempt(ctx, query, claim)
        except Exception as exc:
            if not is_transient(exc):
                raise
            failure = exc
        _give_back(ctx, query.query_id, claim)
        if not backoff.pause(failure, f"query {query.query_id} ({type(query).__name__})"):
            _give_up(ctx, query, claim, failure)


def _give_back(ctx: Context, query_id: str, claim: _Claim) -> None:
    """Return our claim on `query_id` to known, if we hold one and Redis answers (else the next try does)."""
    if not claim.held:
        return
    try:
        ctx.states.release(query_id, ctx.owner)
        claim.held = False
    except Exception as exc:
        if not is_transient(exc):
            raise


def _give_up(ctx: Context, query: Query, claim: _Claim, failure: Exception) -> NoReturn:
    """Out of time for transient failures: the query ends errored and retryable (if Redis answers)."""
    message = f"FlowDB or Redis was out of reach: {describe_failure(failure)}"
    log.error("query %s (%s) failed: %s", query.query_id, type(query).__name__, message)
    try:
        if claim.held or ctx.states.state(query.query_id) is QueryState.KNOWN:
            ctx.states.trigger(query.query_id, QueryEvent.QUEUE, owner=ctx.owner)
            ctx.states.trigger(query.query_id, QueryEvent.ERROR, message=message, retryable=True)
    except Exception:
        log.warning("could not record the failure of %s", query.query_id)
    raise QueryFailedError(message, retryable=True) from failure


def _compute_attempt(ctx: Context, query: Query, claim: _Claim) -> Query:
    states, qid = ctx.states, query.query_id
    if claim.held:  # a claim the last try could not give back
        states.release(qid, ctx.owner)
        claim.held = False
    while True:
        info = states.info(qid)
        state = info.state
        if state is QueryState.COMPLETED:
            if table_exists(ctx, query.table_name):
                return query
            log.warning("cache table of %s vanished; computing it again", qid)
            states.trigger(qid, QueryEvent.RESET, owner=ctx.owner)
            states.trigger(qid, QueryEvent.FINISH_RESETTING)
        elif state is QueryState.KNOWN:
            if _has_cache_record(ctx, query):
                states.adopt_completed(qid)
                continue
            queued, _ = states.trigger(qid, QueryEvent.QUEUE, owner=ctx.owner)
            if not queued:
                continue
            claim.held = True
            # composed before a compute slot is taken: composing may compute another query first (a
            # random sample counts its parent's rows), which needs a slot of its own
            statement = _compose(ctx, query)
            # queued until a compute slot is free; no connection is held meanwhile
            with ctx.pool.computing():
                executing, _ = states.trigger(qid, QueryEvent.EXECUTE, owner=ctx.owner)
                if executing:
                    _execute(ctx, query, statement)
                    claim.held = False
                    return query
            claim.held = False  # cancelled while it waited
        elif state in IN_FLIGHT:
            if states.wait_while_in_flight(qid) is QueryState.KNOWN and info.owner != ctx.owner:
                terminate_orphaned_backends(ctx)  # its owner died: stop what it left running
        elif state is QueryState.ERRORED:
            if info.retryable:  # it failed while FlowDB or Redis was out of reach: try it again
                reset, _ = states.trigger(qid, QueryEvent.RESET, owner=ctx.owner)
                if reset:
                    states.trigger(qid, QueryEvent.FINISH_RESETTING)
                continue
            raise QueryFailedError(info.message or f"query {qid} failed")
        elif state is QueryState.CANCELLED:
            raise QueryCancelledError(f"query {qid} was cancelled")


def statement_settings(ctx: Context, query: Query) -> dict[str, str]:
    """The planner settings of `query` and of every query its SQL inlines (those not computed yet), each
    distinct query visited once; a setting outside `PLANNER_SETTINGS` is a programming error."""
    settings: dict[str, str] = {}
    seen: set[str] = set()

    def visit(q: Query) -> None:
        for dep in q.dependencies:
            if dep.query_id in seen:
                continue
            seen.add(dep.query_id)
            if not (dep.storable and ctx.states.state(dep.query_id) is QueryState.COMPLETED):
                visit(dep)
                settings.update(dep.planner_settings)

    visit(query)
    settings.update(query.planner_settings)
    for name, value in settings.items():
        if value not in PLANNER_SETTINGS.get(name, ()):
            raise ValueError(
                f"{type(query).__name__}: planner setting {name}={value} is not allowed"
            )
    return settings


def adopt_cached(ctx: Context, query: Query) -> bool:
    """If FlowDB holds the (known) query's result, record it as completed; True if it does."""
    if not _has_cache_record(ctx, query):
        return False
    ctx.states.adopt_completed(query.query_id)
    return True


def _has_cache_record(ctx: Context, query: Query) -> bool:
    with ctx.pool.connection() as conn:
        row = conn.execute(
            "SELECT 1 FROM cache.cached WHERE query_id = %s AND to_regclass(%s) IS NOT NULL",
            (query.query_id, query.fully_qualified_table_name),
        ).fetchone()
    return row is not None


def _index_statements(query: Query) -> list[sql.Composable]:
    statements = []
    for cols in query.index_cols:
        columns = (cols,) if isinstance(cols, str) else tuple(cols)
        statements.append(
            sql.SQL("CREATE INDEX ON {} ({}) WITH (fillfactor = 100)").format(
                query.table_identifier, sql.SQL(", ").join(map(sql.Identifier, columns))
            )
        )
    return statements


@dataclass(frozen=True)
class _Statement:
    """Everything `_execute` needs before it takes its connection."""

    text: str
    settings: dict[str, str]
    dependency_ids: list[str]


def _compose(ctx: Context, query: Query) -> _Statement:
    """The (queued) query's statement: its text (composing it looks up which dependencies are stored, each
    lookup on a connection of its own), its planner settings and the stored queries it reads. A failure that
    is not transient errors the query."""
    try:
        body = sql.SQL("CREATE TABLE {} AS SELECT {} FROM ({}) _").format(
            query.table_identifier, query.columns_sql(), query._make_query(ctx)
        )
        with ctx.pool.connection() as conn:
            text = body.as_string(conn)
        return _Statement(text, statement_settings(ctx, query), stored_dependency_ids(ctx, query))
    except Exception as exc:
        if is_transient(exc):
            raise
        if ctx.states.state(query.query_id) is QueryState.CANCELLED:
            raise QueryCancelledError(f"query {query.query_id} was cancelled") from None
        message = describe_failure(exc)
        log.error("query %s (%s) failed: %s", query.query_id, type(query).__name__, message)
        ctx.states.trigger(query.query_id, QueryEvent.ERROR, message=message)
        raise QueryFailedError(message) from exc


def _execute(ctx: Context, query: Query, statement: _Statement) -> None:
    """Compute the (executing) query into its table, in one transaction. A transient failure (FlowDB or Redis
    out of reach) is raised as it is, for `_compute_one` to try again; any other failure errors the query."""
    states, qid = ctx.states, query.query_id
    text = statement.text
    try:
        with ctx.pool.connection() as conn:
            states.set_pid(qid, conn.info.backend_pid)
            if (
                states.state(qid) is not QueryState.EXECUTING
            ):  # cancelled before we recorded the pid
                raise _Abandoned
            with conn.transaction():
                for name, value in statement.settings.items():
                    conn.execute(
                        sql.SQL("SET LOCAL {} = {}").format(
                            sql.Identifier(name), sql.Literal(value)
                        )
                    )
                started = time.perf_counter()
                conn.execute(text)
                compute_ms = (time.perf_counter() - started) * 1000
                for statement in _index_statements(query):
                    conn.execute(statement)
                conn.execute(
                    sql.SQL("SET LOCAL default_statistics_target = {}").format(
                        sql.Literal(CACHE_STATISTICS_TARGET)
                    )
                )
                conn.execute(sql.SQL("ANALYZE {}").format(query.table_identifier))
                _write_metadata(conn, query, text, compute_ms, statement.dependency_ids)
                if states.state(qid) is not QueryState.EXECUTING:
                    raise _Abandoned
        finished, _ = states.trigger(qid, QueryEvent.FINISH)
        if not finished:  # cancelled between the last check and the commit: leave no trace
            _drop(ctx, qid)
            raise QueryCancelledError(f"query {qid} was cancelled")
    except (_Abandoned, pg_errors.QueryCanceled) as exc:
        now = states.state(qid)
        if now is QueryState.CANCELLED:
            raise QueryCancelledError(f"query {qid} was cancelled") from None
        if isinstance(exc, _Abandoned):
            # our claim vanished (Redis lost its data while we computed): compute it again
            raise ClaimLost(f"query {qid} is {now} while this process computed it") from None
        message = describe_failure(exc)
        states.trigger(qid, QueryEvent.ERROR, message=message)
        raise QueryFailedError(message) from exc
    except QueryCancelledError:
        raise
    except Exception as exc:
        if is_transient(exc):
            raise
        message = describe_failure(exc)
        log.error("query %s (%s) failed: %s", qid, type(query).__name__, message)
        states.trigger(qid, QueryEvent.ERROR, message=message)
        raise QueryFailedError(message) from exc


def _write_metadata(
    conn: psycopg.Connection,
    query: Query,
    text: str,
    compute_ms: float,
    dependency_ids: list[str],
) -> None:
    conn.execute(
        """INSERT INTO cache.cached (query_id, version, query, created, access_count, last_accessed,
                                     compute_time, cache_score_multiplier, class, schema, tablename, params)
           VALUES (%s, %s, %s, now(), 0, now(), %s, 0, %s, %s, %s, %s)
           ON CONFLICT (query_id) DO UPDATE SET last_accessed = now()""",
        (
            query.query_id,
            CACHE_FORMAT_VERSION,
            text,
            compute_ms,
            type(query).__name__,
            CACHE_SCHEMA,
            query.table_name,
            Jsonb(query.params),
        ),
    )
    conn.execute(
        """INSERT INTO cache.dependencies (query_id, depends_on)
           SELECT %s, query_id FROM cache.cached WHERE query_id = ANY(%s)
           ON CONFLICT DO NOTHING""",
        (query.query_id, dependency_ids),
    )
    conn.execute("SELECT public.touch_cache(%s)", (query.query_id,))


def _drop(ctx: Context, query_id: str, *, lock_timeout_ms: int | None = None) -> list[str]:
    """Delete a query's table and metadata in one transaction; return the ids that depended on it."""
    with ctx.pool.connection() as conn, conn.transaction():
        if lock_timeout_ms is not None:
            conn.execute(
                sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(f"{lock_timeout_ms}ms"))
            )
        dependents = [
            r[0]
            for r in conn.execute(
                "SELECT query_id FROM cache.dependencies WHERE depends_on = %s", (query_id,)
            )
        ]
        conn.execute(
            sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(CACHE_SCHEMA, f"x{query_id}"))
        )
        conn.execute("DELETE FROM cache.cached WHERE query_id = %s", (query_id,))
    return dependents


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
            dependents = _drop(ctx, query_id)
            break
        reset, _ = states.trigger(query_id, QueryEvent.RESET, owner=ctx.owner)
        if reset:
            try:
                dependents = _drop(ctx, query_id)
            finally:
                states.trigger(query_id, QueryEvent.FINISH_RESETTING)
            break
    if cascade:
        for dependent in dependents:
            invalidate(ctx, dependent, cascade=True)


def recover(ctx: Context) -> tuple[list[str], list[str]]:
    """At start-up: return queries of dead processes to known, and adopt cache tables whose state was lost.

    Returns (repaired ids, adopted ids).
    """
    repaired = ctx.states.repair_all()
    adopted = []
    with ctx.pool.connection() as conn:
        rows = conn.execute(
            """SELECT query_id FROM cache.cached
               WHERE schema = 'cache' AND to_regclass(format('%I.%I', schema, tablename)) IS NOT NULL"""
        ).fetchall()
    for (query_id,) in rows:
        if ctx.states.adopt_completed(query_id):
            adopted.append(query_id)
    if repaired or adopted:
        log.info("recovered %d stuck queries, adopted %d cache tables", len(repaired), len(adopted))
    return repaired, adopted


def cache_size(ctx: Context) -> int:
    with ctx.pool.connection() as conn:
        return conn.execute(
            "SELECT coalesce(sum(public.table_size(tablename, schema)), 0)::bigint FROM cache.cached "
            "WHERE schema = 'cache'"
        ).fetchone()[0]


def shrink_below_size(
    ctx: Context,
    size_threshold: int | None = None,
    *,
    protected_period: int | None = None,
    read_grace_seconds: int = 60,
    dry_run: bool = False,
) -> list[str]:
    """Evict the lowest-scoring results until the cache is at most `size_threshold` bytes.

    The defaults come from FlowDB's cache config (`cache_size`, `cache_protected_period`). Results created within
    the protected period, read within `read_grace_seconds` (a reader may be about to fetch them), or locked by a
    running reader are kept. Returns the evicted (or, with dry_run, the would-be evicted) query ids.
    """
    with ctx.pool.connection() as conn:
        threshold = (
            size_threshold
            if size_threshold is not None
            else conn.execute("SELECT public.cache_max_size()").fetchone()[0]
        )
        protected = (
            protected_period
            if protected_period is not None
            else conn.execute("SELECT public.cache_protected_period()").fetchone()[0]
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
        if not evictable:
            continue
        if not dry_run:
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
        _drop(ctx, query_id, lock_timeout_ms=100)
    finally:
        if reset:
            states.trigger(query_id, QueryEvent.FINISH_RESETTING)
