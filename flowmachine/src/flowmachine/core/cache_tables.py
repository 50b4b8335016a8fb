"""The stored form of a computed query: a table `cache.x<query_id>` plus a row in `cache.cached` (class, SQL,
compute time, size via `table_size`, access counts and score multiplier maintained by FlowDB's `touch_cache`) and
rows in `cache.dependencies` to the nearest stored queries it was built from.

This module reads, writes and drops that form; it knows nothing of how a query is computed or when a result is
evicted (`cache_compute`, `cache_eviction`).
"""

from __future__ import annotations

import logging

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql
from psycopg.types.json import Jsonb

from flowmachine.core.cacheable import AnyStoredQuery, CacheContext
from flowmachine.core.db_values import first_value
from flowmachine.core.query_id import CACHE_FORMAT_VERSION
from flowmachine.core.state import QueryState

log = logging.getLogger(__name__)

# The schema holding every cache table.
CACHE_SCHEMA = "cache"

# ANALYZE of a cache table samples 300 x this many rows: enough for the planner's estimates of what is read
# whole and joined by hash (FlowDB's own target, 1000, samples all of a 2 M-row daily location: 0.8 s).
CACHE_STATISTICS_TARGET = 100


def table_exists(ctx: CacheContext, table_name: str) -> bool:
    with ctx.pool.connection() as conn:
        return (
            first_value(
                conn.execute(
                    "SELECT to_regclass(%s) IS NOT NULL", (f"{CACHE_SCHEMA}.{table_name}",)
                )
            )
            is True
        )


def read_cached(ctx: CacheContext, query: AnyStoredQuery) -> bool:
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


def adopt_cached(ctx: CacheContext, query: AnyStoredQuery) -> bool:
    """If FlowDB holds the (known) query's result, record it as completed; True if it does."""
    if not has_cache_record(ctx, query):
        return False
    ctx.states.adopt_completed(query.query_id)
    return True


def has_cache_record(ctx: CacheContext, query: AnyStoredQuery) -> bool:
    with ctx.pool.connection() as conn:
        row = conn.execute(
            "SELECT 1 FROM cache.cached WHERE query_id = %s AND to_regclass(%s) IS NOT NULL",
            (query.query_id, query.fully_qualified_table_name),
        ).fetchone()
    return row is not None


def index_statements(query: AnyStoredQuery) -> list[sql.Composed]:
    statements = []
    for cols in query.index_cols:
        columns = (cols,) if isinstance(cols, str) else tuple(cols)
        statements.append(
            sql.SQL("CREATE INDEX ON {} ({}) WITH (fillfactor = 100)").format(
                query.table_identifier, sql.SQL(", ").join(map(sql.Identifier, columns))
            )
        )
    return statements


def write_metadata(
    conn: psycopg.Connection,
    query: AnyStoredQuery,
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


def drop_result(
    ctx: CacheContext, query_id: str, *, lock_timeout_ms: int | None = None
) -> list[str]:
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


def recover(ctx: CacheContext) -> tuple[list[str], list[str]]:
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


def cache_size(ctx: CacheContext) -> int:
    with ctx.pool.connection() as conn:
        size: int = first_value(
            conn.execute(
                "SELECT coalesce(sum(public.table_size(tablename, schema)), 0)::bigint "
                "FROM cache.cached WHERE schema = 'cache'"
            )
        )
        return size
