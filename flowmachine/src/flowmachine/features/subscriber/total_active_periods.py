"""TotalActivePeriodsSubscriber: in how many of `total_periods` consecutive periods each subscriber had events.

The periods are [start + i·length, start + (i+1)·length) in `unit` (days, hours or minutes), i < total_periods.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

from psycopg import sql

from flowmachine.core.dates import timestamp_literal, to_datetime
from flowmachine.core.errors import InvalidSpecError
from flowmachine.core.query import Query
from flowmachine.features.subscriber.metric import SubscriberMetric
from flowmachine.features.utilities.events_tables_union import EventsTablesUnion, FromEvents

if TYPE_CHECKING:
    from flowmachine.core.context import Context

PERIOD_UNITS = ("days", "hours", "minutes")


class TotalActivePeriodsSubscriber(FromEvents, SubscriberMetric):
    def __init__(
        self,
        start: str | dt.date | dt.datetime,
        total_periods: int,
        *,
        period_length: int = 1,
        period_unit: str = "days",
        hours: Sequence[int] | None = None,
        tables: str | Sequence[str] | None = None,
        subscriber_subset: Query | None = None,
    ) -> None:
        if period_unit not in PERIOD_UNITS:
            raise InvalidSpecError(
                f"period_unit must be one of {', '.join(PERIOD_UNITS)}, not {period_unit!r}"
            )
        if int(total_periods) < 1 or int(period_length) < 1:
            raise InvalidSpecError("total_periods and period_length must be at least 1")
        self.total_periods = int(total_periods)
        self.period_length = int(period_length)
        self.period_unit = period_unit
        first = to_datetime(start)
        self.events = EventsTablesUnion(
            first,
            self.period_starts(first)[-1],
            columns=["datetime"],
            tables=tables,
            hours=hours,
            subscriber_subset=subscriber_subset,
        )
        super().__init__()

    def period_starts(self, first: dt.datetime | None = None) -> list[dt.datetime]:
        """The total_periods + 1 boundaries of the periods (the last is the end of the window)."""
        first = self.start if first is None else first
        step = dt.timedelta(**{self.period_unit: self.period_length})
        return [first + i * step for i in range(self.total_periods + 1)]

    def _make_query(self, ctx: Context) -> sql.Composable:
        bounds = sql.SQL("ARRAY[{}]::timestamptz[]").format(
            sql.SQL(", ").join(timestamp_literal(b) for b in self.period_starts())
        )
        return sql.SQL(
            """SELECT subscriber, count(DISTINCT width_bucket(datetime, {bounds})) AS value
               FROM ({events}) e GROUP BY subscriber"""
        ).format(bounds=bounds, events=self.events.get_query(ctx))
