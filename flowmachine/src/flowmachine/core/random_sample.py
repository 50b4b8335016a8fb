"""RandomSample: a seeded, reproducible random sample of the rows of an (individual-level) query.

The sampled query is computed into the cache first (sampling works on a table). Methods:

- `system`: PostgreSQL's `TABLESAMPLE SYSTEM` (whole pages; fast, clustered).
- `bernoulli`: `TABLESAMPLE BERNOULLI` (each row independently).
- `random_ids`: rows ordered by a seeded hash of the row, first `size` (or `fraction` × rows) taken: an exact
  size, the same rows for the same seed.

With `size`, `system`/`bernoulli` sample `min(100, 100·size/rows + 10)` percent and keep the first `size` rows,
as FlowKit does; `estimate_count` takes the row count from the table statistics instead of counting. Unlike
FlowKit, the method is part of the query id, so samples by different methods never share a cache table.

Samples of different sizes are not nested (unlike FlowKit's): the seed actually used mixes the seed given with
the sample's size (random_ids: the number of rows taken; system/bernoulli: the percentage and the size), so for
one seed the samples of n and n + 1 rows, or of 50 % and 50.1 %, are two unrelated draws, and their difference
is not a small group of subscribers (docs/privacy.md, "Sampling").
"""

from __future__ import annotations

import hashlib
import math
from typing import TYPE_CHECKING

from psycopg import sql

from flowmachine.core.cache_compute import compute
from flowmachine.core.db_values import first_value
from flowmachine.core.errors import InvalidSpecError
from flowmachine.core.query import Query

if TYPE_CHECKING:
    from flowmachine.core.context import Context

SAMPLING_METHODS = ("system", "bernoulli", "random_ids")


def mixed_seed(*parts: object) -> int:
    """A 31-bit seed drawn from `parts` (the seed given and the sample's size): one seed, one size, one draw."""
    digest = hashlib.sha256(repr(parts).encode()).digest()
    return int.from_bytes(digest[:4], "big") >> 1


class RandomSample(Query):
    def __init__(
        self,
        query: Query,
        *,
        sampling_method: str = "random_ids",
        seed: float,
        size: int | None = None,
        fraction: float | None = None,
        estimate_count: bool = True,
    ) -> None:
        if sampling_method not in SAMPLING_METHODS:
            raise InvalidSpecError(
                f"sampling_method must be one of {', '.join(SAMPLING_METHODS)}, not {sampling_method!r}"
            )
        if (size is None) == (fraction is None):
            raise InvalidSpecError("give exactly one of size and fraction")
        if size is not None and (isinstance(size, bool) or int(size) != size or size < 1):
            raise InvalidSpecError("size must be a whole number of at least 1")
        if fraction is not None and not (0 < float(fraction) < 1):
            raise InvalidSpecError("fraction must be between 0 and 1 (exclusive)")
        if seed is None or not math.isfinite(float(seed)):
            raise InvalidSpecError("a random sample needs a finite seed")
        if sampling_method == "random_ids" and not (-1 <= float(seed) <= 1):
            raise InvalidSpecError("the random_ids seed must be between -1 and 1")
        if not query.storable:
            raise InvalidSpecError(f"{type(query).__name__} queries cannot be sampled")
        self.query = query
        self.sampling_method = sampling_method
        self.seed = float(seed)
        self.size = None if size is None else int(size)
        self.fraction = None if fraction is None else float(fraction)
        self.estimate_count = bool(estimate_count)
        # part of the id: samples drawn with the size mixed into the seed (and the aggregates over them, which
        # check them against the unsampled input) never reuse cache tables of the earlier, nested draws
        self.seeding = "seed-and-size"
        super().__init__()

    def __getattr__(self, name: str):
        if name.startswith("_") or name == "query":
            raise AttributeError(name)
        return getattr(self.query, name)

    @property
    def column_names(self) -> list[str]:
        return self.query.column_names

    @property
    def _size(self) -> int:
        """`size`, for a sample given by size (exactly one of size and fraction is set)."""
        if self.size is None:
            raise InvalidSpecError("give exactly one of size and fraction")
        return self.size

    def _row_count(self, ctx: Context) -> int:
        with ctx.pool.connection() as conn:
            if self.estimate_count:
                estimate = conn.execute(
                    "SELECT reltuples FROM pg_class WHERE oid = to_regclass(%s)",
                    (self.query.fully_qualified_table_name,),
                ).fetchone()
                if estimate is not None and estimate[0] > 0:
                    return int(estimate[0])
            count: int = first_value(
                conn.execute(sql.SQL("SELECT count(*) FROM {}").format(self.query.table_identifier))
            )
            return count

    def _make_query(self, ctx: Context) -> sql.Composable:
        compute(ctx, self.query)
        table = self.query.table_identifier
        columns = self.query.columns_sql("t")
        rows = self._row_count(ctx)
        if self.sampling_method == "random_ids":
            n = self._size if self.fraction is None else round(self.fraction * rows)
            seed = mixed_seed("random_ids", self.seed, n)
            return sql.SQL(
                "SELECT {cols} FROM {table} t ORDER BY hashtextextended(t::text, {seed}), t::text LIMIT {n}"
            ).format(cols=columns, table=table, seed=sql.Literal(seed), n=sql.Literal(n))
        limit: sql.Composable
        if self.fraction is not None:
            percent, limit = self.fraction * 100, sql.SQL("")
        else:
            percent = min(100.0, 100.0 * self._size / max(rows, 1) + 10)
            limit = sql.SQL(" LIMIT {}").format(sql.Literal(self._size))
        return sql.SQL(
            "SELECT {cols} FROM {table} t TABLESAMPLE {method} ({percent}) REPEATABLE ({seed}){limit}"
        ).format(
            cols=columns,
            table=table,
            method=sql.SQL("SYSTEM" if self.sampling_method == "system" else "BERNOULLI"),
            percent=sql.Literal(percent),
            seed=sql.Literal(mixed_seed(self.sampling_method, self.seed, percent, self.size)),
            limit=limit,
        )
