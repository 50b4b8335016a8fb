"""EventCount: the number of events of each subscriber in the window (after the direction filter)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

from psycopg import sql

from flowmachine.core.query import Query
from flowmachine.features.subscriber.metric import SubscriberMetric
from flowmachine.features.utilities.events_tables_union import EventsTablesUnion, FromEvents

if TYPE_CHECKING:
    from flowmachine.core.context import Context


class EventCount(FromEvents, SubscriberMetric):
    def __init__(
        self,
        start: str | dt.date | dt.datetime,
        stop: str | dt.date | dt.datetime,
        *,
        direction: str = "both",
        hours: Sequence[int] | None = None,
        tables: str | Sequence[str] | None = None,
        subscriber_subset: Query | None = None,
    ) -> None:
        self.events = EventsTablesUnion(
            start,
            stop,
            columns=[],
            tables=tables,
            hours=hours,
            subscriber_subset=subscriber_subset,
            direction=direction,
        )
        super().__init__()

    def _make_query(self, ctx: Context) -> sql.Composable:
        return sql.SQL(
            "SELECT subscriber, count(*) AS value FROM ({events}) e GROUP BY subscriber"
        ).format(events=self.events.get_query(ctx))
