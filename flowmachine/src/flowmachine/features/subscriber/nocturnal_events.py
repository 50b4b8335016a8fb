"""NocturnalEvents: the percentage of each subscriber's events that happen at night.

`night_hours = (start, end)` is the half-open window [start:00, end:00) of the event's hour, wrapping
midnight when start > end (the default (20, 4)): the same window as `hours` everywhere else. FlowKit always
tests `hour >= start OR hour < end`, which makes every event nocturnal when start < end.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

from psycopg import sql

from flowmachine.core.errors import InvalidSpecError
from flowmachine.core.query import Query
from flowmachine.features.subscriber.metric import SubscriberMetric
from flowmachine.features.utilities.events_tables_union import (
    EventsTablesUnion,
    FromEvents,
    hours_clause,
    normalise_hours,
)

if TYPE_CHECKING:
    from flowmachine.core.context import Context


class NocturnalEvents(FromEvents, SubscriberMetric):
    def __init__(
        self,
        start: str | dt.date | dt.datetime,
        stop: str | dt.date | dt.datetime,
        *,
        night_hours: Sequence[int] = (20, 4),
        tables: str | Sequence[str] | None = None,
        subscriber_subset: Query | None = None,
    ) -> None:
        night = normalise_hours(night_hours)
        if night is None:
            raise InvalidSpecError("night_hours must leave some hours of the day out")
        self.night_hours = night
        self.events = EventsTablesUnion(
            start,
            stop,
            columns=["datetime"],
            tables=tables,
            subscriber_subset=subscriber_subset,
        )
        super().__init__()

    def _make_query(self, ctx: Context) -> sql.Composable:
        return sql.SQL(
            """SELECT subscriber, 100 * avg(({night})::int) AS value
               FROM ({events}) e GROUP BY subscriber"""
        ).format(
            night=hours_clause(self.night_hours, sql.Identifier("datetime")),
            events=self.events.get_query(ctx),
        )
