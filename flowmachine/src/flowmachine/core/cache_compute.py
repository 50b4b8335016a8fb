"""Computing queries into the cache: exactly one process computes each (claims in the Redis state machine),
dependencies level by level, transient failures of FlowDB or Redis tried again.

The table, its indexes, its statistics and its metadata are written in one transaction, so a crash leaves either
all of them or none.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn, Protocol, TypeVar

from psycopg import errors as pg_errors
from psycopg import sql

from flowmachine.core.cache_plan import (
    dependencies_before_answer,
    dependency_levels,
    storable_dependencies,
)
from flowmachine.core.cache_tables import (
    CACHE_SCHEMA,
    CACHE_STATISTICS_TARGET,
    drop_result,
    has_cache_record,
    index_statements,
    table_exists,
    write_metadata,
)
from flowmachine.core.cacheable import StoredQuery
from flowmachine.core.errors import (
    QueryCancelledError,
    QueryFailedError,
    UnstorableQueryError,
)
from flowmachine.core.orphans import terminate_orphaned_backends
from flowmachine.core.state import IN_FLIGHT, QueryEvent, QueryState
from flowmachine.core.transient import Backoff, ClaimLost, describe_failure, is_transient

if TYPE_CHECKING:
    from flowmachine.core.context import Context

log = logging.getLogger(__name__)

DependencyT_co = TypeVar("DependencyT_co", covariant=True)


class CacheableQuery(StoredQuery[DependencyT_co], Protocol[DependencyT_co]):
    """A query as computing it needs it (`Query` satisfies it): its stored form (`cacheable.StoredQuery`), its
    planner settings and columns, and its own SQL and whether its table is there (which take a `Context`, so
    are declared here, after `context`, not in `cacheable`)."""

    @property
    def planner_settings(self) -> Mapping[str, str]: ...

    def columns_sql(self) -> sql.Composable: ...

    def is_stored(self, ctx: Context) -> bool: ...

    def _make_query(self, ctx: Context) -> sql.Composable: ...


AnyCacheableQuery = CacheableQuery[Any]
# A query's type (`Query` at run time): computing a query hands back the query it was given, typed as such.
QueryT = TypeVar("QueryT", bound=AnyCacheableQuery)

# The planner settings a query class may ask for (`Query.planner_settings`), with the values allowed.
PLANNER_SETTINGS = {"enable_hashagg": {"on", "off"}}


class _Abandoned(Exception):
    """The query left the executing state (it was cancelled) while its SQL ran."""


class _DependencyEvicted(ClaimLost):
    """A stored dependency the statement reads was evicted after the statement was composed (while it waited
    for a compute slot): compose it again, now inlining that dependency. Transient, as a lost claim is."""


def stored_dependency_ids(ctx: Context, query: AnyCacheableQuery) -> list[str]:
    """The nearest stored queries below `query`: descend through unstored ones, stop at stored ones."""
    found: dict[str, None] = {}
    for dep in query.dependencies:
        if dep.storable and dep.is_stored(ctx):
            found[dep.query_id] = None
        else:
            found.update(dict.fromkeys(stored_dependency_ids(ctx, dep)))
    return list(found)


def compute(ctx: Context, query: QueryT, *, store_dependencies: bool = True) -> QueryT:
    """Make sure `query` is computed into its cache table; exactly one process computes it.

    Raises QueryFailedError if it (or a dependency) failed, QueryCancelledError if it was cancelled.
    """
    if not query.storable:
        raise UnstorableQueryError(f"{type(query).__name__} queries are never stored on their own")
    if store_dependencies:
        compute_dependencies(ctx, query)
    return compute_one(ctx, query)


def compute_dependencies(
    ctx: Context, query: CacheableQuery[QueryT], *, stop_if: Callable[[], bool] | None = None
) -> None:
    """Store every storable query below `query`, level by level; a level's queries run side by side on up
    to `dependency_workers` connections (seven daily locations of a modal location use every core).

    `stop_if` is asked before each level: when it says so, QueryCancelledError (dependencies already
    computed or under way by then complete and stay cached)."""
    width = ctx.settings.dependency_workers
    for level in dependency_levels(query):
        if stop_if is not None and stop_if():
            raise QueryCancelledError(f"query {query.query_id} was cancelled")
        if width <= 1 or len(level) == 1:
            for dep in level:
                compute_one(ctx, dep)
            continue
        with ThreadPoolExecutor(
            max_workers=min(width, len(level)), thread_name_prefix="flowmachine-deps"
        ) as pool:
            for future in [pool.submit(compute_one, ctx, dep) for dep in level]:
                future.result()


def prepare_answer(
    ctx: Context, query: CacheableQuery[QueryT], *, stop_if: Callable[[], bool] | None = None
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
            compute_one(ctx, dep)
        elif ctx.states.state(dep.query_id) in IN_FLIGHT:
            ctx.states.wait_while_in_flight(dep.query_id)


def compute_answer(ctx: Context, query: QueryT) -> QueryT:
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
    """Whether this call of `compute_one` holds the query's queued/executing claim, to give back after a
    transient failure (only the thread that took a claim may give it back: the threads of one process share
    its owner token)."""

    held: bool = False


def compute_one(ctx: Context, query: QueryT) -> QueryT:
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


def _give_up(ctx: Context, query: AnyCacheableQuery, claim: _Claim, failure: Exception) -> NoReturn:
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


def _compute_attempt(ctx: Context, query: QueryT, claim: _Claim) -> QueryT:
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
            if has_cache_record(ctx, query):
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


def statement_settings(ctx: Context, query: AnyCacheableQuery) -> dict[str, str]:
    """The planner settings of `query` and of every query its SQL inlines (those not computed yet), each
    distinct query visited once; a setting outside `PLANNER_SETTINGS` is a programming error."""
    settings: dict[str, str] = {}
    seen: set[str] = set()

    def visit(q: AnyCacheableQuery) -> None:
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


@dataclass(frozen=True)
class _Statement:
    """Everything `_execute` needs before it takes its connection."""

    text: str
    settings: dict[str, str]
    dependency_ids: list[str]


def _compose(ctx: Context, query: AnyCacheableQuery) -> _Statement:
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


def _execute(ctx: Context, query: AnyCacheableQuery, statement: _Statement) -> None:
    """Compute the (executing) query into its table, in one transaction. A transient failure (FlowDB or Redis
    out of reach) is raised as it is, for `compute_one` to try again; any other failure errors the query."""
    states, qid = ctx.states, query.query_id
    text, dependency_ids = statement.text, statement.dependency_ids
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
                for index in index_statements(query):
                    conn.execute(index)
                conn.execute(
                    sql.SQL("SET LOCAL default_statistics_target = {}").format(
                        sql.Literal(CACHE_STATISTICS_TARGET)
                    )
                )
                conn.execute(sql.SQL("ANALYZE {}").format(query.table_identifier))
                write_metadata(conn, query, text, compute_ms, dependency_ids)
                if states.state(qid) is not QueryState.EXECUTING:
                    raise _Abandoned
        finished, _ = states.trigger(qid, QueryEvent.FINISH)
        if not finished:  # cancelled between the last check and the commit: leave no trace
            drop_result(ctx, qid)
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
        if isinstance(exc, pg_errors.UndefinedTable) and f'"{CACHE_SCHEMA}.x' in str(exc):
            raise _DependencyEvicted(f"a cache table {qid} reads was evicted") from exc
        message = describe_failure(exc)
        log.error("query %s (%s) failed: %s", qid, type(query).__name__, message)
        states.trigger(qid, QueryEvent.ERROR, message=message)
        raise QueryFailedError(message) from exc
