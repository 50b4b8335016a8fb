"""HistogramAggregation: how many subscribers' metric values fall in each bin.

`bins` is a number of equal-width bins over `range` (or the metric's min..max), or a list of bin edges. Bins
are half-open [lower, upper) except the last, which is closed, for edges given either way (FlowKit never
closes the last of a list of edges). Empty bins count 0 (FlowKit reports 1).

Redaction suppresses only the bins resting on 15 or fewer subscribers: their `value` is NULL and the other
bins stay, unless the suppressed bins together hold 1–15 subscribers: then every bin is NULL, since a one-bin
histogram over the same range (the total) minus the published bins would count them. FlowKit instead blanks
the whole histogram when any bin is below 15, which blanks nearly every real histogram of a long-tailed metric
such as radius of gyration.

A sampled metric is refused: a sample moves subscribers out of bins, and without a range even the edges follow
the sample, so no per-bin check against the unsampled histogram is sound (docs/privacy.md, "Sampling").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from psycopg import sql

from flowmachine.core.errors import InvalidSpecError
from flowmachine.core.query import Query
from flowmachine.core.redaction import leaves_out_none_or_many, more_than_threshold
from flowmachine.core.sampled_release import refuse_sampled

if TYPE_CHECKING:
    from flowmachine.core.context import Context


class HistogramAggregation(Query):
    def __init__(
        self,
        metric: Query,
        *,
        bins: int | Sequence[float],
        range: Sequence[float] | None = None,
        redact: bool = True,
    ) -> None:
        if "value" not in metric.column_names:
            raise InvalidSpecError("a histogram needs a metric with a value column")
        if redact:
            # a sample moves subscribers between bins: no per-bin count of it is sound (docs/privacy.md)
            refuse_sampled(metric, kind="histogram_aggregate")
        if isinstance(bins, int) and not isinstance(bins, bool):
            if bins < 1:
                raise InvalidSpecError("bins must be at least 1")
            self.bins: int | tuple[float, ...] = bins
        else:
            # a bool is an int but no number of bins: refused as iterating it always refused it
            if isinstance(bins, bool):
                raise TypeError("'bool' object is not iterable")
            edges = tuple(float(b) for b in bins)
            if len(edges) < 2 or any(not math.isfinite(e) for e in edges):
                raise InvalidSpecError("bin edges must be at least two finite numbers")
            if any(b <= a for a, b in zip(edges, edges[1:], strict=False)):
                raise InvalidSpecError("bin edges must increase")
            if range is not None:
                raise InvalidSpecError("give either bin edges or a range, not both")
            self.bins = edges
        if range is not None:
            low, high = (float(r) for r in range)
            if not (math.isfinite(low) and math.isfinite(high) and low < high):
                raise InvalidSpecError("range must be two finite numbers, lower first")
            self.range: tuple[float, float] | None = (low, high)
        else:
            self.range = None
        self.metric = metric
        self.redact = bool(redact)
        super().__init__()

    @property
    def column_names(self) -> list[str]:
        return ["value", "lower_edge", "upper_edge"]

    def _edges(self) -> sql.Composable:
        """`i, lower_edge, upper_edge` for each bin i = 1..n, and the bounds `lo, hi`, from CTE `m`."""
        if isinstance(self.bins, tuple):
            edges = sql.SQL("ARRAY[{}]::double precision[]").format(
                sql.SQL(", ").join(sql.Literal(e) for e in self.bins)
            )
            return sql.SQL(
                """bounds AS (SELECT {edges} AS edges),
                   bins AS (SELECT i, edges[i] AS lower_edge, edges[i + 1] AS upper_edge
                            FROM bounds, generate_series(1, {n}) i),
                   binned AS (SELECT least(width_bucket(v, edges), {n}) AS i, subscriber
                              FROM m, bounds WHERE v >= edges[1] AND v <= edges[{last}])"""
            ).format(
                edges=edges, n=sql.Literal(len(self.bins) - 1), last=sql.Literal(len(self.bins))
            )
        n = sql.Literal(self.bins)
        bounds: sql.Composable
        if self.range is None:
            bounds = sql.SQL("SELECT min(v) AS lo, max(v) AS hi FROM m")
        else:
            bounds = sql.SQL(
                "SELECT {}::double precision AS lo, {}::double precision AS hi"
            ).format(sql.Literal(self.range[0]), sql.Literal(self.range[1]))
        return sql.SQL(
            """bounds AS ({bounds}),
               bins AS (SELECT i, lo + (hi - lo) * (i - 1) / {n} AS lower_edge,
                               CASE WHEN i = {n} THEN hi ELSE lo + (hi - lo) * i / {n} END AS upper_edge
                        FROM bounds, generate_series(1, {n}) i),
               binned AS (SELECT CASE WHEN hi > lo THEN least(width_bucket(v, lo, hi, {n}), {n}) ELSE 1 END AS i,
                                 subscriber
                          FROM m, bounds WHERE v >= lo AND v <= hi)"""
        ).format(bounds=bounds, n=n)

    def _make_query(self, ctx: Context) -> sql.Composable:
        subscriber = (
            sql.SQL("subscriber")
            if "subscriber" in self.metric.column_names
            else sql.SQL("NULL::text AS subscriber")
        )
        count = sql.SQL("coalesce(c.subscribers, 0)")
        value: sql.Composable = count
        if self.redact:
            published = sql.SQL("sum({}) FILTER (WHERE {}) OVER ()").format(
                count, more_than_threshold(count)
            )
            value = sql.SQL("CASE WHEN {} AND {} THEN {} END").format(
                more_than_threshold(count),
                leaves_out_none_or_many(
                    sql.SQL("sum({}) OVER ()").format(count),
                    sql.SQL("coalesce({}, 0)").format(published),
                ),
                count,
            )
        return sql.SQL(
            """WITH m AS (SELECT value::double precision AS v, {subscriber}
                          FROM ({metric}) q WHERE value IS NOT NULL),
               {edges},
               counts AS (SELECT i, count(*) AS subscribers FROM binned GROUP BY i)
               SELECT {value} AS value, b.lower_edge, b.upper_edge
               FROM bins b LEFT JOIN counts c USING (i)
               ORDER BY b.i"""
        ).format(
            subscriber=subscriber,
            metric=self.metric.get_query(ctx),
            edges=self._edges(),
            value=value,
        )
