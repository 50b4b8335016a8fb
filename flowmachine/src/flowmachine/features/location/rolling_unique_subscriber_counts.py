"""RollingUniqueSubscriberCounts: distinct subscribers per location in a trailing window of `window` days,
for every day of a range, computed in one pass over the events (not one count per window).

For each day D from `start + window - 1` to the last day before `stop`, a row `{L}, date=D, value` holds the
number of distinct subscribers with an event at the location during the `window` days ending on D (D included):
exactly what `UniqueSubscriberCounts(D - window + 1, D + 1, ...)` gives for that location. Every window lies
inside [start, stop), so the query reads exactly the events of its own range, like every other kind. Days are
calendar days (UTC, FlowDB's time zone); with `hours` crossing midnight (22-06), the hours after midnight
belong to the next day.

How it is one pass. The events are collapsed to *presence*, one row per (subscriber, location, day) with an
event; presence on day d counts the subscriber in the windows ending on d .. d + window - 1. Sorting a
subscriber's days at a location, each day adds only the window ends its predecessor did not already cover,
`[max(d, previous + window), d + window - 1]`, so the subscriber's contributions are disjoint and simply add
up: a +1 where a run of covered window ends starts and a -1 after it ends. A running sum of those changes per
location, in day order, is the distinct-subscriber count of every window. The work is one scan of the range's
events and one sort of the presence rows, whatever the number of windows.

Redaction: a (location, day) row is published only if more than 15 distinct subscribers are behind it, the
same rule as unique_subscriber_counts applied to every window separately.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

from psycopg import sql

from flowmachine.core.dates import date_literal, to_datetime
from flowmachine.core.errors import InvalidSpecError
from flowmachine.core.query import Query
from flowmachine.core.redaction import REDACTION_THRESHOLD
from flowmachine.core.spatial_unit import SpatialUnit
from flowmachine.core.sql_parts import identifiers
from flowmachine.features.utilities.subscriber_locations import (
    FromSubscriberLocations,
    SubscriberLocations,
)

if TYPE_CHECKING:
    from flowmachine.core.context import Context

DEFAULT_WINDOW_DAYS = 7
MAX_WINDOW_DAYS = 366


def whole_days(value: str | dt.date | dt.datetime, name: str) -> dt.datetime:
    """`value` as a naive UTC datetime at midnight; InvalidSpecError if it has a time of day."""
    parsed = to_datetime(value)
    if parsed.time() != dt.time():
        raise InvalidSpecError(
            f"{name} must be a date (rolling windows are whole days), not {value!r}"
        )
    return parsed


class RollingUniqueSubscriberCounts(FromSubscriberLocations, Query):
    def __init__(
        self,
        start: str | dt.date | dt.datetime,
        stop: str | dt.date | dt.datetime,
        spatial_unit: SpatialUnit,
        *,
        window: int = DEFAULT_WINDOW_DAYS,
        hours: Sequence[int] | None = None,
        tables: str | Sequence[str] | None = None,
        subscriber_subset: Query | None = None,
        redact: bool = True,
    ) -> None:
        start_dt, stop_dt = whole_days(start, "start_date"), whole_days(stop, "end_date")
        if (
            isinstance(window, bool)
            or not isinstance(window, int)
            or not 1 <= window <= MAX_WINDOW_DAYS
        ):
            raise InvalidSpecError(
                f"window_days must be a whole number of days from 1 to {MAX_WINDOW_DAYS}, not {window!r}"
            )
        days = (stop_dt - start_dt).days
        if days < window:
            raise InvalidSpecError(
                f"the range from start_date to end_date ({days} days) must hold at least one window of "
                f"{window} days"
            )
        self.window = window
        self.subscriber_locations = SubscriberLocations(
            start_dt,
            stop_dt,
            spatial_unit,
            tables=tables,
            hours=hours,
            subscriber_subset=subscriber_subset,
        )
        self.redact = bool(redact)
        super().__init__()

    @property
    def column_names(self) -> list[str]:
        return [*self.location_columns, "date", "value"]

    @property
    def first_window_end(self) -> dt.date:
        """The last day of the first window (the first `date` of the series)."""
        return (self.start + dt.timedelta(days=self.window - 1)).date()

    @property
    def last_window_end(self) -> dt.date:
        return (self.stop - dt.timedelta(days=1)).date()

    def _presence(self, ctx: Context) -> sql.Composable:
        """`subscriber, {L}, day`: one row per subscriber, location and day with an event there.

        Events are collapsed to (subscriber, cell, day) before they are placed in the unit, so the join to the
        cell mapping sees one row per cell and day, not one per event; the day keeps the cell's service-date
        check exact."""
        locations = self.subscriber_locations
        collapsed = sql.SQL(
            """SELECT subscriber, date_trunc('day', datetime) AS datetime, location_id
               FROM ({events}) ev GROUP BY 1, 2, 3"""
        ).format(events=locations.events.get_query(ctx))
        return sql.SQL(
            "SELECT DISTINCT subscriber, {L}, time::date AS day FROM ({located}) s"
        ).format(
            L=identifiers(self.location_columns),
            located=locations.locate(ctx, collapsed),
        )

    def _make_query(self, ctx: Context) -> sql.Composable:
        L = identifiers(self.location_columns)
        least_count = REDACTION_THRESHOLD if self.redact else 0
        return sql.SQL(
            """WITH presence AS ({presence}),
               covers AS (
                   SELECT {L},
                          greatest(day, lag(day) OVER (PARTITION BY subscriber, {L} ORDER BY day) + {w})
                              AS first_end,
                          day + {w} AS after_end
                   FROM presence),
               changes AS (
                   SELECT {Lc}, x.day, sum(x.delta) AS delta
                   FROM covers c CROSS JOIN LATERAL (VALUES (c.first_end, 1), (c.after_end, -1)) AS x(day, delta)
                   GROUP BY {Lc}, x.day),
               levels AS (
                   SELECT {L}, day, lead(day) OVER (PARTITION BY {L} ORDER BY day) AS next_day,
                          sum(delta) OVER (PARTITION BY {L} ORDER BY day) AS value
                   FROM changes)
               SELECT {Ll}, d.day::date::text AS date, l.value::bigint AS value
               FROM levels l
               CROSS JOIN LATERAL generate_series(greatest(l.day, {first})::timestamp,
                                                  least(l.next_day - 1, {last})::timestamp,
                                                  interval '1 day') AS d(day)
               WHERE l.value > {least_count}"""
        ).format(
            presence=self._presence(ctx),
            L=L,
            Lc=identifiers(self.location_columns, "c"),
            Ll=identifiers(self.location_columns, "l"),
            w=sql.Literal(self.window),
            first=date_literal(self.first_window_end),
            last=date_literal(self.last_window_end),
            least_count=sql.Literal(least_count),
        )
