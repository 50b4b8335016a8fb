"""CalendarActivity: for each subscriber, the periods in which they had at least one event.

The periods are `[start + i·length, start + (i+1)·length)` in `unit` (days, hours or minutes), for
`i < total_periods`. `value` is the array of the starts of the subscriber's active periods, in order.
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


def period_step(length: int, unit: str) -> dt.timedelta:
    if unit not in PERIOD_UNITS:
        raise InvalidSpecError(
            f"period_unit must be one of {', '.join(PERIOD_UNITS)}, not {unit!r}"
        )
    if isinstance(length, bool) or int(length) != length or length < 1:
        raise InvalidSpecError("period_length must be a whole number of at least 1")
    return dt.timedelta(**{unit: int(length)})


class CalendarActivity(FromEvents, SubscriberMetric):
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
        step = period_step(period_length, period_unit)
        if (
            isinstance(total_periods, bool)
            or int(total_periods) != total_periods
            or total_periods < 1
        ):
            raise InvalidSpecError("total_periods must be a whole number of at least 1")
        start_dt = to_datetime(start)
        self.total_periods = int(total_periods)
        self.period_length = int(period_length)
        self.period_unit = period_unit
        self.events = EventsTablesUnion(
            start_dt,
            start_dt + step * self.total_periods,
            columns=["datetime"],
            tables=tables,
            hours=hours,
            subscriber_subset=subscriber_subset,
        )
        super().__init__()

    def _make_query(self, ctx: Context) -> sql.Composable:
        step = period_step(self.period_length, self.period_unit)
        return sql.SQL(
            """SELECT subscriber, array_agg(period ORDER BY period) AS value FROM (
                   SELECT DISTINCT subscriber, date_bin({step}, datetime, {origin}) AS period
                   FROM ({events}) e) p
               GROUP BY subscriber"""
        ).format(
            step=sql.Literal(step),
            origin=timestamp_literal(self.start),
            events=self.events.get_query(ctx),
        )
