"""JoinedSpatialAggregate: a statistic of a per-subscriber metric over the subscribers at each location.

The metric is joined to the reference location on subscriber. Numeric methods give `<L>, <metric column>…`;
`distr` gives `<L>, metric, key, value`, the share of the location's subscribers with each metric value.
Redaction counts the subscribers actually aggregated (FlowKit counts those of the location query, even
without a metric value): a location needs more than 15, and for `distr` so does each (location, key) row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from psycopg import sql

from flowmachine.core.errors import InvalidSpecError
from flowmachine.core.query import Query
from flowmachine.core.redaction import having, more_than_threshold
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
        return sql.SQL(
            "SELECT l.subscriber, {L}, {M} FROM ({metric}) m JOIN ({locations}) l ON m.subscriber = l.subscriber"
        ).format(
            L=identifiers(self.location_columns, "l"),
            M=identifiers(self.metric_columns, "m"),
            metric=self.metric.get_query(ctx),
            locations=self.locations.get_query(ctx),
        )

    def _make_query(self, ctx: Context) -> sql.Composable:
        L = identifiers(self.location_columns)
        if self.method != "distr":
            stats = sql.SQL(", ").join(
                sql.SQL("{} AS {}").format(
                    statistic_sql(self.method, sql.Identifier(c)), sql.Identifier(c)
                )
                for c in self.metric_columns
            )
            return sql.SQL("SELECT {L}, {stats} FROM ({joined}) j GROUP BY {L}{having}").format(
                L=L,
                stats=stats,
                joined=self._joined(ctx),
                having=having(self.redact, sql.SQL("count(DISTINCT subscriber)")),
            )
        parts = []
        for c in self.metric_columns:
            parts.append(
                sql.SQL(
                    """SELECT {L}, {name} AS metric, {col}::text AS key,
                              (count(*)::double precision / sum(count(*)) OVER (PARTITION BY {L})) AS value,
                              count(DISTINCT subscriber) AS subscribers,
                              sum(count(DISTINCT subscriber)) OVER (PARTITION BY {L}) AS location_subscribers
                       FROM ({joined}) j GROUP BY {L}, {col}"""
                ).format(L=L, name=sql.Literal(c), col=sql.Identifier(c), joined=self._joined(ctx))
            )
        union = sql.SQL(" UNION ALL ").join(parts)
        where = (
            sql.SQL(" WHERE {} AND {}").format(
                more_than_threshold(sql.SQL("subscribers")),
                more_than_threshold(sql.SQL("location_subscribers")),
            )
            if self.redact
            else sql.SQL("")
        )
        return sql.SQL("SELECT {L}, metric, key, value FROM ({union}) d{where}").format(
            L=L, union=union, where=where
        )
