"""JoinedSpatialAggregate: a statistic of a per-subscriber metric over the subscribers at each location.

The metric is joined to the reference location on subscriber. Numeric methods give `<L>, <metric column>…`;
`distr` gives `<L>, metric, key, value`, the share of the location's subscribers (with a metric row) holding
each metric value.

Redaction (ours, stricter than FlowKit's: see docs/compatibility.md). The number of subscribers *located* at a
place is published by spatial_aggregate of the same `locations`, so what is published here must not let a
count of 1–15 be had by difference with it:

- numeric methods: a location needs more than 15 subscribers with a value of each metric column, and the
  located subscribers without one must number 0 or more than 15 (else `count`, or sum / avg, minus the
  located count would count them);
- `distr`: a location's distribution is published whole or not at all: every category (a NULL value is one)
  needs more than 15 subscribers, and the located subscribers without a metric row must number 0 or more
  than 15. Shares are over the subscribers described, so they sum to 1 and no category is hidden behind
  1 − Σ shares (FlowKit issue #1940).

Of a sample (the metric, the locations or both a `RandomSample`), numeric methods publish a location only
where the sample leaves out 0 or more than 15 of its unsampled located subscribers and of those with a value
of each metric column (`core.sampled_release`); `distr` of a sample is refused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from psycopg import sql

from flowmachine.core.errors import InvalidSpecError
from flowmachine.core.query import Query
from flowmachine.core.redaction import leaves_out_none_or_many, more_than_threshold
from flowmachine.core.sampled_release import (
    is_sampled,
    publish_keys_where_sample_leaves_out_none_or_many,
    unsampled,
)
from flowmachine.core.sql_parts import identifiers
from flowmachine.core.statistic import STATISTICS, statistic_sql
from flowmachine.features.subscriber.base_location import BaseLocation

if TYPE_CHECKING:
    from flowmachine.core.context import Context

METHODS = (*STATISTICS, "distr")


class JoinedSpatialAggregate(Query):
    def __init__(
        self, metric: Query, locations: BaseLocation, *, method: str = "avg", redact: bool = True
    ) -> None:
        if method not in METHODS:
            raise InvalidSpecError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
        if "subscriber" not in metric.column_names:
            raise InvalidSpecError(
                "the metric of a joined_spatial_aggregate needs a subscriber column"
            )
        self.metric = metric
        self.locations = locations
        self.method = method
        self.redact = bool(redact)
        self._sampled = self.redact and is_sampled(metric, locations)
        if self._sampled and method == "distr":
            raise InvalidSpecError(
                "joined_spatial_aggregate with method distr cannot be computed over a random sample "
                "(of its metric or locations): ask for it without `sampling`, or use a numeric method."
            )
        super().__init__()

    @property
    def spatial_unit(self):
        return self.locations.spatial_unit

    @property
    def location_columns(self) -> tuple[str, ...]:
        return self.locations.location_columns

    @property
    def metric_columns(self) -> list[str]:
        return [c for c in self.metric.column_names if c != "subscriber"]

    @property
    def column_names(self) -> list[str]:
        if self.method == "distr":
            return [*self.location_columns, "metric", "key", "value"]
        return [*self.location_columns, *self.metric_columns]

    def _joined(self, ctx: Context) -> sql.Composable:
        """Every located subscriber (`subscriber, <L>…`), with the metric's columns and `_described` (true
        when the metric has a row for the subscriber)."""
        return sql.SQL(
            """SELECT l.subscriber, {L}, {M}, (m.subscriber IS NOT NULL) AS _described
               FROM ({locations}) l LEFT JOIN ({metric}) m ON m.subscriber = l.subscriber"""
        ).format(
            L=identifiers(self.location_columns, "l"),
            M=identifiers(self.metric_columns, "m"),
            metric=self.metric.get_query(ctx),
            locations=self.locations.get_query(ctx),
        )

    def _subscriber_counts(self, ctx: Context) -> sql.Composable:
        """`<L>…, located, valued_0…`: per location, the located subscribers and those with a value of each
        metric column, unredacted."""
        L = identifiers(self.location_columns)
        valued = [
            sql.SQL("count(DISTINCT subscriber) FILTER (WHERE {} IS NOT NULL) AS {}").format(
                sql.Identifier(c), sql.Identifier(f"valued_{i}")
            )
            for i, c in enumerate(self.metric_columns)
        ]
        return sql.SQL(
            "SELECT {L}, count(DISTINCT subscriber) AS located, {valued} FROM ({joined}) j GROUP BY {L}"
        ).format(L=L, valued=sql.SQL(", ").join(valued), joined=self._joined(ctx))

    def _make_query(self, ctx: Context) -> sql.Composable:
        if self.method == "distr":
            return self._distribution(ctx)
        release = self._statistics(ctx)
        if not self._sampled:
            return release
        full = JoinedSpatialAggregate(
            unsampled(self.metric), unsampled(self.locations), method=self.method, redact=False
        )
        return publish_keys_where_sample_leaves_out_none_or_many(
            release,
            self._subscriber_counts(ctx),
            full._subscriber_counts(ctx),
            self.location_columns,
            ["located", *(f"valued_{i}" for i in range(len(self.metric_columns)))],
        )

    def _statistics(self, ctx: Context) -> sql.Composable:
        L = identifiers(self.location_columns)
        stats = sql.SQL(", ").join(
            sql.SQL("{} AS {}").format(
                statistic_sql(self.method, sql.Identifier(c)), sql.Identifier(c)
            )
            for c in self.metric_columns
        )
        located = sql.SQL("count(DISTINCT subscriber)")
        conditions: list[sql.Composable] = [sql.SQL("bool_or(_described)")]
        if self.redact:
            for c in self.metric_columns:
                valued = sql.SQL("count(DISTINCT subscriber) FILTER (WHERE {} IS NOT NULL)").format(
                    sql.Identifier(c)
                )
                conditions += [
                    more_than_threshold(valued),
                    leaves_out_none_or_many(located, valued),
                ]
        return sql.SQL(
            "SELECT {L}, {stats} FROM ({joined}) j GROUP BY {L} HAVING {conditions}"
        ).format(
            L=L,
            stats=stats,
            joined=self._joined(ctx),
            conditions=sql.SQL(" AND ").join(conditions),
        )

    def _distribution(self, ctx: Context) -> sql.Composable:
        L = identifiers(self.location_columns)
        parts = []
        for c in self.metric_columns:
            parts.append(
                sql.SQL(
                    """SELECT {L}, {name} AS metric, _described, {col}::text AS key, count(*) AS n,
                              count(DISTINCT subscriber) AS subscribers
                       FROM ({joined}) j GROUP BY {L}, _described, {col}::text"""
                ).format(L=L, name=sql.Literal(c), col=sql.Identifier(c), joined=self._joined(ctx))
            )
        window = sql.SQL("OVER (PARTITION BY {L}, metric)").format(L=L)
        where: sql.Composable = sql.SQL("_described")
        if self.redact:
            where = sql.SQL("_described AND {} AND {}").format(
                more_than_threshold(sql.SQL("smallest")),
                leaves_out_none_or_many(sql.SQL("located"), sql.SQL("described")),
            )
        return sql.SQL(
            """SELECT {L}, metric, key, value FROM (
                   SELECT {L}, metric, key, _described,
                          n::double precision / sum(n) FILTER (WHERE _described) {w} AS value,
                          min(subscribers) FILTER (WHERE _described) {w} AS smallest,
                          sum(subscribers) FILTER (WHERE _described) {w} AS described,
                          sum(subscribers) {w} AS located
                   FROM ({union}) c) d
               WHERE {where}"""
        ).format(L=L, w=window, union=sql.SQL(" UNION ALL ").join(parts), where=where)
