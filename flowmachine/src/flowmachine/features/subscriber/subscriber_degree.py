"""SubscriberDegree: the number of distinct counterparts of each subscriber in the window.

Calls and messages to oneself are left out by default (as in FlowKit), so a subscriber whose only events are
with themselves has no row.
"""

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


class SubscriberDegree(FromEvents, SubscriberMetric):
    def __init__(
        self,
        start: str | dt.date | dt.datetime,
        stop: str | dt.date | dt.datetime,
        *,
        direction: str = "both",
        hours: Sequence[int] | None = None,
        tables: str | Sequence[str] | None = None,
        subscriber_subset: Query | None = None,
        exclude_self_calls: bool = True,
    ) -> None:
        self.events = EventsTablesUnion(
            start,
            stop,
            columns=["msisdn_counterpart"],
            tables=tables,
            hours=hours,
            subscriber_subset=subscriber_subset,
            direction=direction,
        )
        self.exclude_self_calls = bool(exclude_self_calls)
        super().__init__()

    def _make_query(self, ctx: Context) -> sql.Composable:
        condition = sql.SQL(
            "WHERE msisdn_counterpart <> subscriber" if self.exclude_self_calls else ""
        )
        return sql.SQL(
            """SELECT subscriber, count(DISTINCT msisdn_counterpart) AS value
               FROM ({events}) e {condition} GROUP BY subscriber"""
        ).format(events=self.events.get_query(ctx), condition=condition)
