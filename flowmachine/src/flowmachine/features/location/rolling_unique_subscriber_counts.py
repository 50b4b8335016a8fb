"""RollingUniqueSubscriberCounts: distinct subscribers per location in a trailing window of `window` days,
for every day of a range, computed in one pass over the events (not one count per window).

For each day D from `start + window - 1` to the last day before `stop`, a row `{L}, date=D, value` holds the
number of distinct subscribers with an event at the location during the `window` days ending on D (D included):
exactly what `UniqueSubscriberCounts(D - window + 1, D + 1, ...)` gives for that location. Every window lies
inside [start, stop), so the query reads exactly the events of its own range, like every other kind. Days are
calendar days (UTC, FlowDB's time zone); with `hours` crossing midnight (22-06), the hours after midnight
belong to the next day.

How it is one pass. The events are read once and reduced to *presence*: which days of the range each
subscriber was seen at each location. Presence on day d counts the subscriber in the windows ending on
d .. d + window - 1. Two formulations, the same rows:

- ranges of up to 62 days (the usual case): per (subscriber, location), one hash aggregation of the located
  events into a bigint whose bit i says "seen on day start + i"; OR-ing the mask shifted by 0 .. window - 1
  gives the window ends that count the subscriber. Subscribers with the same (location, covered mask) are
  counted together, and one aggregation per location sums, for each window end, the subscribers whose mask
  has that bit. No sort, no per-window work on events.
- longer ranges: presence rows (subscriber, location, day), sorted per subscriber and location; each day adds
  only the window ends its predecessor did not already cover, `[max(d, previous + window), d + window - 1]`,
  so the contributions are disjoint and add up: a +1 where a run of covered window ends starts and a -1 after
  it ends, and a running sum of those changes per location, in day order, is every window's count.

Either way the work is one scan of the range's events, whatever the number of windows.

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
# Ranges up to this many days count with one bigint day mask per subscriber and location (bits 0 .. 61).
BITMASK_MAX_DAYS = 62


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

    @property
    def days(self) -> int:
        """Days in the range."""
        return (self.stop - self.start).days

    def _make_query(self, ctx: Context) -> sql.Composable:
        if self.days <= BITMASK_MAX_DAYS:
            return self._bitmask_query(ctx)
        return self._runs_query(ctx)

    def _bitmask_query(self, ctx: Context) -> sql.Composable:
        L = identifiers(self.location_columns)
        first_end = self.window - 1  # bit of the first window end
        covered = sql.SQL(" | ").join(
            sql.SQL("(days << {})").format(sql.Literal(k)) for k in range(self.window)
        )
        counts = sql.SQL(", ").join(
            sql.SQL("coalesce(sum(n) FILTER (WHERE (covered >> {d}) & 1 = 1), 0)").format(
                d=sql.Literal(d)
            )
            for d in range(first_end, self.days)
        )
        return sql.SQL(
            """SELECT {La}, ({first} + (x.i::integer - 1))::text AS date, x.value::bigint AS value
               FROM (SELECT {L}, ARRAY[{counts}] AS counts
                     FROM (SELECT {L}, {covered} AS covered, count(*) AS n
                           FROM (SELECT subscriber, {L},
                                        bit_or(1::bigint << (time::date - {start})) AS days
                                 FROM ({located}) s GROUP BY subscriber, {L}) p
                           GROUP BY {L}, covered) g
                     GROUP BY {L}) a
               CROSS JOIN LATERAL unnest(a.counts) WITH ORDINALITY AS x(value, i)
               WHERE x.value > {least_count}"""
        ).format(
            La=identifiers(self.location_columns, "a"),
            L=L,
            first=date_literal(self.first_window_end),
            counts=counts,
            covered=covered,
            start=date_literal(self.start.date()),
            located=self.subscriber_locations.get_query(ctx),
            least_count=sql.Literal(REDACTION_THRESHOLD if self.redact else 0),
        )

    def _runs_query(self, ctx: Context) -> sql.Composable:
        L = identifiers(self.location_columns)
        least_count = REDACTION_THRESHOLD if self.redact else 0
        return sql.SQL(
            """WITH presence AS (
                   SELECT DISTINCT subscriber, {L}, time::date AS day FROM ({located}) s),
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
            located=self.subscriber_locations.get_query(ctx),
            L=L,
            Lc=identifiers(self.location_columns, "c"),
            Ll=identifiers(self.location_columns, "l"),
            w=sql.Literal(self.window),
            first=date_literal(self.first_window_end),
            last=date_literal(self.last_window_end),
            least_count=sql.Literal(least_count),
        )
