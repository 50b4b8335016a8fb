"""Noisy releases kept for good: the Python step between a release's exact bounded counts and its stored rows.

`ensure_release` runs once per query id: it reads the exact bounded counts of every key (`DPCounts.exact_rows`),
adds OpenDP's noise (`mechanism.noisy_counts`) and writes the noisy rows into `dp.x<query_id>` with a row in
`dp.releases` (FlowDB migration 0008), in one transaction. The query's cache table is then a copy of that table,
so evicting or resetting the cache and computing the query again gives the same noisy values back: the noise of
a query id is drawn once, ever. Two processes racing to release the same query id both compute, but only the
first commit is kept (the primary key of `dp.releases`), and both read its rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from psycopg import sql

from flowmachine.core.dp.mechanism import laplace_scale, noisy_counts
from flowmachine.core.errors import InvalidSpecError
from flowmachine.core.sql_parts import identifiers

if TYPE_CHECKING:
    from flowmachine.core.context import Context

# The schema of the permanent release tables (FlowDB migration 0008; FlowAPI's role cannot read it).
RELEASE_SCHEMA = "dp"


class NoisyCounts(Protocol):
    """What releasing needs of a differentially private query (`queries.DPCounts` satisfies it)."""

    @property
    def query_id(self) -> str: ...

    @property
    def column_names(self) -> list[str]:
        """The released columns, `value` (the count) among them."""
        ...

    @property
    def epsilon(self) -> float: ...

    @property
    def sensitivity(self) -> int:
        """The L1 sensitivity of the bounded counts to one subscriber."""
        ...

    def keys(self, ctx: Context) -> sql.Composable:
        """Every key of the release, chosen without reading events."""
        ...

    def exact_rows(self, ctx: Context) -> sql.Composed:
        """One row per key, `value` the exact bounded count."""
        ...


def release_table(query_id: str) -> sql.Identifier:
    return sql.Identifier(RELEASE_SCHEMA, f"x{query_id}")


def is_released(ctx: Context, query_id: str) -> bool:
    with ctx.pool.connection() as conn:
        row = conn.execute(
            "SELECT 1 FROM dp.releases WHERE query_id = %s AND to_regclass(%s) IS NOT NULL",
            (query_id, f"{RELEASE_SCHEMA}.x{query_id}"),
        ).fetchone()
    return row is not None


def ensure_release(ctx: Context, query: NoisyCounts) -> None:
    """Draw and keep the noisy rows of `query` unless they are kept already."""
    if is_released(ctx, query.query_id):
        return
    exact = query.exact_rows(ctx)  # composed first: composing takes connections of its own
    key_count = sql.SQL("SELECT count(*) FROM ({}) k").format(query.keys(ctx))
    limit = ctx.settings.dp_max_release_rows
    with ctx.pool.computing(), ctx.pool.connection() as conn:
        ctx.states.set_pid(query.query_id, conn.info.backend_pid)  # so that cancelling stops it
        counted = conn.execute(key_count).fetchone()
        n_keys = counted[0] if counted else 0
        if n_keys > limit:
            raise InvalidSpecError(
                f"this release would publish {n_keys} rows (every unit and period), more than the "
                f"{limit} allowed (FLOWMACHINE_DP_MAX_RELEASE_ROWS); use a coarser unit, interval or window"
            )
        rows = conn.execute(exact).fetchall()
    at = query.column_names.index("value")
    values = noisy_counts(
        [row[at] for row in rows], sensitivity=query.sensitivity, epsilon=query.epsilon
    )
    noisy = [(*row[:at], value, *row[at + 1 :]) for row, value in zip(rows, values, strict=True)]
    _store(ctx, query, exact, noisy)


def _store(
    ctx: Context, query: NoisyCounts, exact: sql.Composed, rows: list[tuple[Any, ...]]
) -> None:
    table = release_table(query.query_id)
    columns = identifiers(query.column_names)
    with ctx.pool.connection() as conn, conn.transaction():
        first = conn.execute(
            """INSERT INTO dp.releases (query_id, class, epsilon, sensitivity, scale, n_rows, tablename)
               VALUES (%s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (query_id) DO NOTHING RETURNING 1""",
            (
                query.query_id,
                type(query).__name__,
                query.epsilon,
                query.sensitivity,
                laplace_scale(query.sensitivity, query.epsilon),
                len(rows),
                f"x{query.query_id}",
            ),
        ).fetchone()
        if first is None:  # another process released it first: its draw stands
            return
        conn.execute(
            sql.SQL(
                "CREATE TABLE {table} AS SELECT {columns} FROM ({exact}) r WITH NO DATA"
            ).format(table=table, columns=columns, exact=exact)
        )
        with conn.cursor() as cur:
            with cur.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(table, columns)) as copy:
                for row in rows:
                    copy.write_row(row)
