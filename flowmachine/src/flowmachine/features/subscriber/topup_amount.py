"""TopUpAmount: a statistic of each subscriber's top-up amounts (`events.topups.recharge_amount`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

from psycopg import sql

from flowmachine.core.query import Query
from flowmachine.core.statistic import check_statistic, statistic_sql
from flowmachine.features.subscriber.metric import SubscriberMetric
from flowmachine.features.utilities.events_tables_union import EventsTablesUnion, FromEvents

if TYPE_CHECKING:
    from flowmachine.core.context import Context


class TopUpAmount(FromEvents, SubscriberMetric):
    def __init__(
        self,
        start: str | dt.date | dt.datetime,
        stop: str | dt.date | dt.datetime,
        *,
        statistic: str = "avg",
        hours: Sequence[int] | None = None,
        subscriber_subset: Query | None = None,
    ) -> None:
        self.statistic = check_statistic(statistic)
        self.events = EventsTablesUnion(
            start,
            stop,
            columns=["recharge_amount"],
            tables=["topups"],
            hours=hours,
            subscriber_subset=subscriber_subset,
        )
        super().__init__()

    def _make_query(self, ctx: Context) -> sql.Composable:
        return sql.SQL(
            "SELECT subscriber, {stat} AS value FROM ({events}) e GROUP BY subscriber"
        ).format(
            stat=statistic_sql(self.statistic, sql.Identifier("recharge_amount")),
            events=self.events.get_query(ctx),
        )
