"""The query base class: a description of an analysis that becomes SQL and is computed once into the cache.

A subclass sets its parameters as attributes (public names; `_private` ones are not part of its identity), then
calls `super().__init__()`, which derives the deterministic `query_id`. It defines `column_names` and
`_make_query(ctx)`, which returns a `psycopg.sql.Composable`: identifiers come from fixed lists and every value
is a `sql.Literal`, quoted by the driver, never pasted into the text.

Queries it builds on are attributes too (or inside list/tuple/dict attributes); they are its dependencies, and
`get_query(ctx)` of a dependency that is already computed is `SELECT … FROM cache.x<id>`, so stored results are
reused wherever they appear.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, ClassVar

import pandas as pd
from psycopg import sql

from flowmachine.core.cache_compute import compute
from flowmachine.core.cache_eviction import invalidate
from flowmachine.core.cache_tables import CACHE_SCHEMA, read_cached, table_exists
from flowmachine.core.query_id import HasQueryId, canonical, make_query_id

if TYPE_CHECKING:
    from flowmachine.core.context import Context
    from flowmachine.core.state import QueryState

__all__ = ["CACHE_SCHEMA", "Query"]


class Query(HasQueryId):
    """Base class of every query kind."""

    # False for queries that are only ever embedded in others (event subsets, unions): they are never stored.
    storable: ClassVar[bool] = True
    # True for queries stored before any query using them is answered (the cell -> location mappings, which
    # the planner joins well only once stored and ANALYZEd); a server inlines other unstored dependencies into
    # the answer's SQL and stores them afterwards, in idle time (`cache.compute_answer`).
    store_first: ClassVar[bool] = False
    # Planner settings for the statement computing this query, also when it is inlined into another's (names
    # from `cache.PLANNER_SETTINGS`): for shapes whose row estimates mislead PostgreSQL, with measurements.
    planner_settings: ClassVar[Mapping[str, str]] = {}

    def __init__(self) -> None:
        dependencies: list[Query] = []
        params = {
            name: canonical(value, dependencies)
            for name, value in sorted(vars(self).items())
            if not name.startswith("_")
        }
        self._params = params
        self._dependencies = list({d.query_id: d for d in dependencies}.values())
        self._query_id = make_query_id(
            type(self).__name__, params, [d.query_id for d in self._dependencies]
        )

    # identity -----------------------------------------------------------------------------------------------

    @property
    def query_id(self) -> str:
        return self._query_id

    @property
    def params(self) -> dict[str, Any]:
        """The canonical parameters the id is derived from (sub-queries as their ids)."""
        return self._params

    @property
    def dependencies(self) -> list[Query]:
        """The queries this one is built on directly."""
        return list(self._dependencies)

    def __hash__(self) -> int:
        return hash(self.query_id)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Query) and other.query_id == self.query_id

    def __repr__(self) -> str:
        return f"<Query of type: {type(self).__name__}, query_id: '{self.query_id}'>"

    # SQL ------------------------------------------------------------------------------------------------------

    @property
    @abstractmethod
    def column_names(self) -> list[str]:
        """The output columns, in order."""

    @abstractmethod
    def _make_query(self, ctx: Context) -> sql.Composable:
        """The SQL computing this query from its dependencies' `get_query(ctx)`."""

    @property
    def index_cols(self) -> list[str | tuple[str, ...]]:
        """Columns (or column groups) indexed on the cache table: none by default.

        A cache table is read whole (joined by hash, aggregated, streamed out), so the indexes FlowKit builds on
        its location columns and subscriber are never used, and cost more than a third of storing a daily
        location (docs/compatibility.md).
        """
        return []

    @property
    def table_name(self) -> str:
        return f"x{self.query_id}"

    @property
    def fully_qualified_table_name(self) -> str:
        return f"{CACHE_SCHEMA}.{self.table_name}"

    @property
    def table_identifier(self) -> sql.Identifier:
        return sql.Identifier(CACHE_SCHEMA, self.table_name)

    def columns_sql(self, alias: str | None = None) -> sql.Composable:
        if alias is None:
            return sql.SQL(", ").join(sql.Identifier(c) for c in self.column_names)
        return sql.SQL(", ").join(sql.Identifier(alias, c) for c in self.column_names)

    def get_query(self, ctx: Context) -> sql.Composable:
        """SQL for this query's rows: its cache table if computed, else its own SQL."""
        if self.storable and read_cached(ctx, self):
            return sql.SQL("SELECT {} FROM {}").format(self.columns_sql(), self.table_identifier)
        return self._make_query(ctx)

    def sql_text(self, ctx: Context) -> str:
        query = self.get_query(ctx)  # composed first: composing takes connections of its own
        with ctx.pool.connection() as conn:
            return query.as_string(conn)

    # state and storage ----------------------------------------------------------------------------------------

    def query_state(self, ctx: Context) -> QueryState:
        return ctx.states.state(self.query_id)

    def is_stored(self, ctx: Context) -> bool:
        return self.storable and table_exists(ctx, self.table_name)

    def store(self, ctx: Context, *, store_dependencies: bool = True) -> Future[Query]:
        """Compute into `cache.x<query_id>` on the context's thread pool; the future gives this query back."""
        return ctx.executor.submit(compute, ctx, self, store_dependencies=store_dependencies)

    def invalidate_db_cache(self, ctx: Context, *, cascade: bool = True) -> None:
        invalidate(ctx, self.query_id, cascade=cascade)

    # data access ----------------------------------------------------------------------------------------------

    def _select(self, ctx: Context, limit: int | None = None) -> sql.Composed:
        query = sql.SQL("SELECT {} FROM ({}) _").format(self.columns_sql(), self.get_query(ctx))
        if limit is not None:
            query = sql.SQL("{} LIMIT {}").format(query, sql.Literal(int(limit)))
        return query

    def get_dataframe(self, ctx: Context) -> pd.DataFrame:
        query = self._select(ctx)
        with ctx.pool.connection() as conn, conn.cursor() as cur:
            cur.execute(query)
            return pd.DataFrame(cur.fetchall(), columns=self.column_names)

    def head(self, ctx: Context, n: int = 5) -> pd.DataFrame:
        query = self._select(ctx, n)
        with ctx.pool.connection() as conn, conn.cursor() as cur:
            cur.execute(query)
            return pd.DataFrame(cur.fetchall(), columns=self.column_names)

    def explain(self, ctx: Context, *, format: str = "text", analyse: bool = False) -> Any:
        """PostgreSQL's plan for this query's own SQL; text as one string, json as parsed JSON."""
        fmt = format.upper()
        if fmt not in {"TEXT", "JSON", "YAML", "XML"}:
            raise ValueError(f"format must be text, json, yaml or xml, got {format!r}")
        options = sql.SQL("FORMAT {}{}").format(
            sql.SQL(fmt), sql.SQL(", ANALYZE" if analyse else "")
        )
        statement = sql.SQL("EXPLAIN ({}) {}").format(options, self._make_query(ctx))
        with ctx.pool.connection() as conn, conn.cursor() as cur:
            cur.execute(statement)
            rows = [r[0] for r in cur.fetchall()]
        if fmt == "TEXT":
            return "\n".join(rows)
        return rows[0]
