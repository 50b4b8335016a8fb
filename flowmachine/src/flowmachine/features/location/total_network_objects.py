"""Network objects (cells) seen per location and period, and statistics of those totals over longer periods.

`TotalNetworkObjects` counts the distinct cells with events per location and `date_trunc(total_by, time)`.
FlowKit does not redact it; here a (location, period) row is published only if more than 15 subscribers had
events there, since an active cell in a sparsely used place says who was there.
`AggregateNetworkObjects` applies a statistic to those (already redacted) totals per coarser period.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

from psycopg import sql

from flowmachine.core.errors import InvalidSpecError
from flowmachine.core.query import Query
from flowmachine.core.redaction import having
from flowmachine.core.spatial_unit import SpatialUnit
from flowmachine.core.sql_parts import identifiers
from flowmachine.core.statistic import check_statistic, statistic_sql
from flowmachine.features.utilities.subscriber_locations import (
    FromSubscriberLocations,
    SubscriberLocations,
)

if TYPE_CHECKING:
    from flowmachine.core.context import Context

# "week" (ours, additive): ISO weeks starting on Monday, PostgreSQL's date_trunc('week', …), in UTC.
TOTAL_BY = ("second", "minute", "hour", "day", "week", "month", "year")
AGGREGATE_BY = (*TOTAL_BY, "century")


class TotalNetworkObjects(FromSubscriberLocations, Query):
    def __init__(
        self,
        start: str | dt.date | dt.datetime,
        stop: str | dt.date | dt.datetime,
        spatial_unit: SpatialUnit,
        *,
        total_by: str = "day",
        hours: Sequence[int] | None = None,
        tables: str | Sequence[str] | None = None,
        subscriber_subset: Query | None = None,
        redact: bool = True,
    ) -> None:
        if spatial_unit.is_network_object:
            raise InvalidSpecError(
                f"total_network_objects counts cells per location; {spatial_unit.name} is itself a network object"
            )
        if total_by not in TOTAL_BY:
            raise InvalidSpecError(
                f"total_by must be one of {', '.join(TOTAL_BY)}, not {total_by!r}"
            )
        self.total_by = total_by
        self.subscriber_locations = SubscriberLocations(
            start,
            stop,
            spatial_unit,
            tables=tables,
            hours=hours,
            subscriber_subset=subscriber_subset,
        )
        self.redact = bool(redact)
        super().__init__()

    @property
    def column_names(self) -> list[str]:
        return [*self.location_columns, "value", "datetime"]

    def _make_query(self, ctx: Context) -> sql.Composable:
        L = identifiers(self.location_columns)
        return sql.SQL(
            """SELECT {L}, count(DISTINCT location_id) AS value, period AS datetime
               FROM (SELECT {L}, location_id, subscriber, date_trunc({by}, time) AS period
                     FROM ({locations}) s) e
               GROUP BY {L}, period{having}"""
        ).format(
            L=L,
            by=sql.Literal(self.total_by),
            locations=self.subscriber_locations.get_query(ctx),
            having=having(self.redact, sql.SQL("count(DISTINCT subscriber)")),
        )


class AggregateNetworkObjects(Query):
    def __init__(
        self, total_network_objects: TotalNetworkObjects, *, statistic: str, aggregate_by: str
    ) -> None:
        self.statistic = check_statistic(statistic)
        if aggregate_by not in AGGREGATE_BY:
            raise InvalidSpecError(
                f"aggregate_by must be one of {', '.join(AGGREGATE_BY)}, not {aggregate_by!r}"
            )
        self.aggregate_by = aggregate_by
        self.total_network_objects = total_network_objects
        super().__init__()

    @property
    def spatial_unit(self) -> SpatialUnit:
        return self.total_network_objects.spatial_unit

    @property
    def location_columns(self) -> tuple[str, ...]:
        return self.total_network_objects.location_columns

    @property
    def column_names(self) -> list[str]:
        return [*self.location_columns, "value", "datetime"]

    def _make_query(self, ctx: Context) -> sql.Composable:
        L = identifiers(self.location_columns)
        return sql.SQL(
            """SELECT {L}, {stat} AS value, date_trunc({by}, datetime) AS datetime
               FROM ({totals}) t GROUP BY {L}, date_trunc({by}, datetime)"""
        ).format(
            L=L,
            stat=statistic_sql(self.statistic, sql.SQL("value")),
            by=sql.Literal(self.aggregate_by),
            totals=self.total_network_objects.get_query(ctx),
        )
