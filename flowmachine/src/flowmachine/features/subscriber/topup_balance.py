"""TopUpBalance: a statistic of each subscriber's account balance, as known from their top-ups.

`count`, `max` and `min` use the top-ups themselves: how many, and the extremes of the pre- and post-top-up
balances. The others weight balances by how long they were held in the window [start, stop), with the
top-ups of a subscriber ordered by time, then id:

- before the first top-up (from `start`), the balance is its pre-top-up balance;
- between two top-ups it is the mean of the earlier's post-top-up and the later's pre-top-up balance;
- after the last top-up (until `stop`), it is its post-top-up balance.

With w the seconds each balance b was held: `sum` = Σ w·b, `avg` = Σ w·b / Σ w, `variance` =
Σ w·(b − avg)² / (Σ w − 1) and `stddev` its root, `median` the least balance whose cumulative weight (balances
ascending) reaches half of Σ w, `mode` the balance held longest in total (ties: the lower balance). FlowKit
orders its median by weight instead of balance and takes as mode the balance with the least Σ w·b.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

from psycopg import sql

from flowmachine.core.dates import timestamp_literal
from flowmachine.core.query import Query
from flowmachine.core.statistic import check_statistic
from flowmachine.features.subscriber.metric import SubscriberMetric
from flowmachine.features.utilities.events_tables_union import EventsTablesUnion, FromEvents

if TYPE_CHECKING:
    from flowmachine.core.context import Context

_SEGMENTS = """
topups AS ({events}),
segments AS (
    SELECT subscriber,
           extract(epoch FROM datetime - coalesce(lag(datetime) OVER w, {start})) AS weight,
           (pre_event_balance + coalesce(lag(post_event_balance) OVER w, pre_event_balance)) / 2
               AS balance
    FROM topups
    WINDOW w AS (PARTITION BY subscriber ORDER BY datetime, id)
    UNION ALL
    SELECT * FROM (
        SELECT DISTINCT ON (subscriber) subscriber, extract(epoch FROM {stop} - datetime) AS weight,
               post_event_balance AS balance
        FROM topups ORDER BY subscriber, datetime DESC, id DESC) last_topup)"""

_STATISTICS = {
    "count": "SELECT subscriber, count(*) AS value FROM topups GROUP BY subscriber",
    "max": """SELECT subscriber, max(greatest(pre_event_balance, post_event_balance)) AS value
              FROM topups GROUP BY subscriber""",
    "min": """SELECT subscriber, min(least(pre_event_balance, post_event_balance)) AS value
              FROM topups GROUP BY subscriber""",
    "sum": "SELECT subscriber, sum(weight * balance) AS value FROM segments GROUP BY subscriber",
    "avg": """SELECT subscriber, sum(weight * balance) / nullif(sum(weight), 0) AS value
              FROM segments GROUP BY subscriber""",
    "variance": """SELECT s.subscriber, sum(s.weight * (s.balance - a.mean) ^ 2) / nullif(sum(s.weight) - 1, 0) AS value
                   FROM segments s JOIN (
                       SELECT subscriber, sum(weight * balance) / nullif(sum(weight), 0) AS mean
                       FROM segments GROUP BY subscriber) a USING (subscriber)
                   GROUP BY s.subscriber""",
    "stddev": """SELECT s.subscriber, sqrt(sum(s.weight * (s.balance - a.mean) ^ 2) / nullif(sum(s.weight) - 1, 0)) AS value
                 FROM segments s JOIN (
                     SELECT subscriber, sum(weight * balance) / nullif(sum(weight), 0) AS mean
                     FROM segments GROUP BY subscriber) a USING (subscriber)
                 GROUP BY s.subscriber""",
    "median": """SELECT DISTINCT ON (subscriber) subscriber, balance AS value FROM (
                     SELECT subscriber, balance,
                            sum(weight) OVER (PARTITION BY subscriber ORDER BY balance
                                              RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS cumulative,
                            sum(weight) OVER (PARTITION BY subscriber) AS total
                     FROM segments) c
                 WHERE cumulative >= total / 2
                 ORDER BY subscriber, balance""",
    "mode": """SELECT DISTINCT ON (subscriber) subscriber, balance AS value
               FROM segments GROUP BY subscriber, balance
               ORDER BY subscriber, sum(weight) DESC, balance""",
}


class TopUpBalance(FromEvents, SubscriberMetric):
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
            columns=["id", "datetime", "pre_event_balance", "post_event_balance"],
            tables=["topups"],
            hours=hours,
            subscriber_subset=subscriber_subset,
        )
        super().__init__()

    def _make_query(self, ctx: Context) -> sql.Composable:
        return sql.SQL("WITH {segments} {statistic}").format(
            segments=sql.SQL(_SEGMENTS).format(
                events=self.events.get_query(ctx),
                start=timestamp_literal(self.start),
                stop=timestamp_literal(self.stop),
            ),
            statistic=sql.SQL(_STATISTICS[self.statistic]),
        )
