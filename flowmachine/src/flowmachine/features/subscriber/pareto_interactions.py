"""ParetoInteractions: the share of a subscriber's counterparts that make up `proportion` of their events.

Counterparts are ranked by events with the subscriber (most first, ties by counterpart id descending, as
FlowKit); n is the fewest top-ranked counterparts whose events reach ceil(total events × proportion);
value = n / number of distinct counterparts (self-calls included, as FlowKit's degree here).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

from psycopg import sql

from flowmachine.core.errors import InvalidSpecError
from flowmachine.core.query import Query
from flowmachine.features.subscriber.metric import SubscriberMetric
from flowmachine.features.utilities.events_tables_union import EventsTablesUnion, FromEvents

if TYPE_CHECKING:
    from flowmachine.core.context import Context


class ParetoInteractions(FromEvents, SubscriberMetric):
    def __init__(
        self,
        start: str | dt.date | dt.datetime,
        stop: str | dt.date | dt.datetime,
        *,
        proportion: float = 0.8,
        hours: Sequence[int] | None = None,
        tables: str | Sequence[str] | None = None,
        subscriber_subset: Query | None = None,
    ) -> None:
        proportion = float(proportion)
        if not 0 < proportion < 1:
            raise InvalidSpecError(
                f"proportion must be between 0 and 1 (exclusive), not {proportion}"
            )
        self.proportion = proportion
        self.events = EventsTablesUnion(
            start,
            stop,
            columns=["msisdn_counterpart"],
            tables=tables,
            hours=hours,
            subscriber_subset=subscriber_subset,
        )
        super().__init__()

    def _make_query(self, ctx: Context) -> sql.Composable:
        return sql.SQL(
            """WITH contacts AS (
                   SELECT subscriber, msisdn_counterpart, count(*) AS events
                   FROM ({events}) e WHERE msisdn_counterpart IS NOT NULL
                   GROUP BY subscriber, msisdn_counterpart),
               ranked AS (
                   SELECT subscriber,
                          row_number() OVER w AS rank,
                          sum(events) OVER w AS cumulative,
                          sum(events) OVER (PARTITION BY subscriber) AS total,
                          count(*) OVER (PARTITION BY subscriber) AS degree
                   FROM contacts
                   WINDOW w AS (PARTITION BY subscriber ORDER BY events DESC, msisdn_counterpart DESC
                                ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW))
               SELECT subscriber, min(rank)::double precision / min(degree) AS value
               FROM ranked WHERE cumulative >= ceil(total * {p}::numeric)
               GROUP BY subscriber"""
        ).format(events=self.events.get_query(ctx), p=sql.Literal(self.proportion))
