"""LocationEventCounts: events per location and time bucket (day, hour, minute; ours also week and month).

Redaction and counting happen in one pass: a (location, bucket) row is kept only if more than 15 distinct
subscribers had events there in that bucket, counted over exactly the events being counted (same direction,
hours and subscriber subset). FlowKit builds one redaction query per bucket instead, ignores direction and
subset in it, and with `hours` set keeps the wrong buckets or fails.

As in FlowKit, buckets are whole 24-hour periods from `start`: a trailing part-day of the window is dropped.

`week` and `month` (ours, additive) are calendar buckets: ISO weeks starting on Monday (PostgreSQL's
`date_trunc('week', …)`) and calendar months, in UTC (FlowDB's time zone). Their `date` is the bucket's first
day (a Monday, or the 1st), even when the window starts later in it; the first and last buckets count only the
window's events, so they may cover part of a week or month.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

from psycopg import sql

from flowmachine.core.dates import to_datetime
from flowmachine.core.errors import InvalidSpecError
from flowmachine.core.query import Query
from flowmachine.core.redaction import having
from flowmachine.core.spatial_unit import SpatialUnit
from flowmachine.core.sql_parts import identifiers
from flowmachine.features.utilities.subscriber_locations import (
    FromSubscriberLocations,
    SubscriberLocations,
)

if TYPE_CHECKING:
    from flowmachine.core.context import Context

INTERVALS = {
    "day": ("date",),
    "hour": ("date", "hour"),
    "min": ("date", "hour", "min"),
    "week": ("date",),
    "month": ("date",),
}
_TRUNCATE_TO = {"day": "day", "hour": "hour", "min": "minute", "week": "week", "month": "month"}
# Each output column from the bucket's start (a timestamptz: an 8-byte key, cheap to hash per event).
_BUCKET_SQL = {
    "date": "(bucket::date)::text",
    "hour": "extract(hour FROM bucket)::integer",
    "min": "extract(minute FROM bucket)::integer",
}


class LocationEventCounts(FromSubscriberLocations, Query):
    def __init__(
        self,
        start: str | dt.date | dt.datetime,
        stop: str | dt.date | dt.datetime,
        spatial_unit: SpatialUnit,
        *,
        interval: str = "hour",
        direction: str = "both",
        hours: Sequence[int] | None = None,
        tables: str | Sequence[str] | None = None,
        subscriber_subset: Query | None = None,
        redact: bool = True,
    ) -> None:
        if interval not in INTERVALS:
            raise InvalidSpecError(
                f"interval must be one of {', '.join(INTERVALS)}, not {interval!r}"
            )
        start_dt, stop_dt = to_datetime(start), to_datetime(stop)
        whole_days = (stop_dt - start_dt) // dt.timedelta(days=1)
        if whole_days < 1:
            raise InvalidSpecError("location_event_counts needs a window of at least one whole day")
        self.interval = interval
        self.subscriber_locations = SubscriberLocations(
            start_dt,
            start_dt + dt.timedelta(days=whole_days),
            spatial_unit,
            tables=tables,
            hours=hours,
            subscriber_subset=subscriber_subset,
            direction=direction,
        )
        self.redact = bool(redact)
        super().__init__()

    @property
    def column_names(self) -> list[str]:
        return [*self.location_columns, *INTERVALS[self.interval], "value"]

    def _make_query(self, ctx: Context) -> sql.Composable:
        bucket_columns = sql.SQL(", ").join(
            sql.SQL("{} AS {}").format(sql.SQL(_BUCKET_SQL[b]), sql.Identifier(b))
            for b in INTERVALS[self.interval]
        )
        # Count per (location, bucket, subscriber) first: hash-aggregable, and the next level gets both the
        # event count and the distinct subscribers from it in one pass.
        return sql.SQL(
            """SELECT {L}, {bucket_columns}, sum(n)::bigint AS value
               FROM (SELECT {L}, date_trunc({unit}, time) AS bucket, subscriber, count(*) AS n
                     FROM ({locations}) s GROUP BY {L}, bucket, subscriber) per_subscriber
               GROUP BY {L}, bucket{having}"""
        ).format(
            L=identifiers(self.location_columns),
            bucket_columns=bucket_columns,
            unit=sql.Literal(_TRUNCATE_TO[self.interval]),
            locations=self.subscriber_locations.get_query(ctx),
            having=having(self.redact, sql.SQL("count(*)")),
        )
