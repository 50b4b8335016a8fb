"""The event access layer: rows of one or more event tables in a window, filtered, as one relation.

    EventsTablesUnion(start, stop, columns=["datetime", "location_id"], tables=["calls"],
                      hours=(20, 4), subscriber_subset=some_query, direction="out")

gives `subscriber, <columns>` from each table's rows with `start <= datetime < stop` (timestamptz constants, so
PostgreSQL prunes the day partitions outside the window at plan time), within the `hours` window, in the
given `direction`, and for subscribers of `subscriber_subset`; one `SELECT` per table, joined by `UNION ALL`.
It is never stored on its own: queries built on it are.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from psycopg import sql

from flowmachine.core.dates import timestamp_literal, to_datetime
from flowmachine.core.errors import InvalidSpecError, MissingDateError
from flowmachine.core.query import Query

if TYPE_CHECKING:
    from flowmachine.core.context import Context

# FlowDB's public event tables and their columns (reference/flowdb.md); identifiers come only from here.
_COMMON = (
    "id",
    "datetime",
    "msisdn",
    "location_id",
    "imsi",
    "imei",
    "tac",
    "operator_code",
    "country_code",
)
EVENT_TABLE_COLUMNS: dict[str, frozenset[str]] = {
    "calls": frozenset(_COMMON + ("outgoing", "duration", "network", "msisdn_counterpart")),
    "sms": frozenset(_COMMON + ("outgoing", "network", "msisdn_counterpart")),
    "forwards": frozenset(_COMMON + ("outgoing", "network", "msisdn_counterpart")),
    "mds": frozenset(_COMMON + ("duration", "volume_total", "volume_upload", "volume_download")),
    "topups": frozenset(
        _COMMON
        + (
            "type",
            "recharge_amount",
            "airtime_fee",
            "tax_and_fee",
            "pre_event_balance",
            "post_event_balance",
        )
    ),
}
EVENT_TYPES = ("calls", "sms", "mds", "topups")
DIRECTIONS = ("in", "out", "both")
SUBSCRIBER_IDENTIFIERS = ("msisdn", "imei", "imsi")


def normalise_tables(tables: str | Sequence[str] | None) -> tuple[str, ...] | None:
    """Event table names without the `events.` prefix, deduplicated and sorted; None means the default set."""
    if tables is None:
        return None
    if isinstance(tables, str):
        tables = [tables]
    names = set()
    for t in tables:
        name = t.removeprefix("events.")
        if name not in EVENT_TABLE_COLUMNS:
            raise InvalidSpecError(
                f"unknown event type {t!r}; expected one of {', '.join(EVENT_TABLE_COLUMNS)}"
            )
        names.add(name)
    if not names:
        raise InvalidSpecError("event_types must name at least one event type")
    return tuple(sorted(names))


def normalise_hours(hours: Sequence[int] | None) -> tuple[int, int] | None:
    """`(start_hour, end_hour)`: the half-open window [start:00, end:00), wrapping midnight if start > end."""
    if hours is None or hours == "all":
        return None
    start, end = (int(h) for h in hours)
    if not (0 <= start <= 23 and 0 <= end <= 24):
        raise InvalidSpecError(f"hours must be 0..23 and 0..24, got ({start}, {end})")
    if (start, end) == (0, 24):
        return None
    if start == end % 24:
        raise InvalidSpecError(
            f"hours ({start}, {end}) select no time of day; leave hours out to use every hour"
        )
    return start, end


def hours_clause(hours: tuple[int, int] | None, column: sql.Composable) -> sql.Composable | None:
    if hours is None:
        return None
    start, end = hours
    hour = sql.SQL("extract(hour FROM {})").format(column)
    if end == 24:
        return sql.SQL("{} >= {}").format(hour, sql.Literal(start))
    if start < end:
        return sql.SQL("({h} >= {s} AND {h} < {e})").format(
            h=hour, s=sql.Literal(start), e=sql.Literal(end)
        )
    return sql.SQL("({h} >= {s} OR {h} < {e})").format(
        h=hour, s=sql.Literal(start), e=sql.Literal(end)
    )


def default_tables(ctx: Context) -> tuple[str, ...]:
    """FlowKit's default event types: the tables that have both subscribers and counterparts."""
    with ctx.pool.connection() as conn:
        rows = conn.execute(
            "SELECT table_name FROM public.available_tables() "
            "WHERE has_subscribers AND has_counterparts ORDER BY table_name"
        ).fetchall()
    return tuple(r[0] for r in rows if r[0] in EVENT_TABLE_COLUMNS)


def tables_with_data(
    ctx: Context, tables: Sequence[str], start: dt.datetime, stop: dt.datetime
) -> tuple[str, ...]:
    """The tables with at least one ingested day in [start, stop)."""
    last_day = (stop - dt.timedelta(microseconds=1)).date()
    with ctx.pool.connection() as conn:
        rows = conn.execute(
            "SELECT DISTINCT cdr_type FROM etl.available_dates "
            "WHERE cdr_type = ANY(%s) AND cdr_date BETWEEN %s AND %s",
            (list(tables), start.date(), last_day),
        ).fetchall()
    present = {r[0] for r in rows}
    return tuple(t for t in tables if t in present)


class EventsTablesUnion(Query):
    """`subscriber` plus the requested columns of the events in a window, over several event tables."""

    storable: ClassVar[bool] = False

    def __init__(
        self,
        start: str | dt.date | dt.datetime,
        stop: str | dt.date | dt.datetime,
        *,
        columns: Sequence[str],
        tables: str | Sequence[str] | None = None,
        hours: Sequence[int] | None = None,
        subscriber_subset: Query | None = None,
        direction: str = "both",
        subscriber_identifier: str = "msisdn",
    ) -> None:
        self.start = to_datetime(start)
        self.stop = to_datetime(stop)
        if self.stop <= self.start:
            raise InvalidSpecError(
                f"the window must end after it starts ({self.start} to {self.stop})"
            )
        self.columns = tuple(dict.fromkeys(columns))
        if "subscriber" in self.columns:
            raise InvalidSpecError("'subscriber' is always selected; do not request it")
        self.tables = normalise_tables(tables)
        self.hours = normalise_hours(hours)
        if direction not in DIRECTIONS:
            raise InvalidSpecError(f"direction must be one of in, out, both, not {direction!r}")
        self.direction = direction
        if subscriber_identifier not in SUBSCRIBER_IDENTIFIERS:
            raise InvalidSpecError("subscriber_identifier must be msisdn, imei or imsi")
        self.subscriber_identifier = subscriber_identifier
        if subscriber_subset is not None and "subscriber" not in subscriber_subset.column_names:
            raise InvalidSpecError("a subscriber_subset query must have a subscriber column")
        self.subscriber_subset = subscriber_subset
        if self.tables is not None:
            for table in self.tables:
                self._check_columns(table)
        super().__init__()

    @property
    def column_names(self) -> list[str]:
        return ["subscriber", *self.columns]

    def _check_columns(self, table: str) -> None:
        available = EVENT_TABLE_COLUMNS[table]
        needed = set(self.columns) | {self.subscriber_identifier}
        if self.direction != "both":
            needed.add("outgoing")
        missing = sorted(needed - available)
        if missing:
            raise InvalidSpecError(
                f"events.{table} has no column {', '.join(missing)}"
                + (" (direction needs 'outgoing')" if "outgoing" in missing else "")
            )

    def resolved_tables(self, ctx: Context) -> tuple[str, ...]:
        tables = self.tables if self.tables is not None else default_tables(ctx)
        for table in tables:
            self._check_columns(table)
        present = tables_with_data(ctx, tables, self.start, self.stop)
        if not present:
            raise MissingDateError(
                f"no {'/'.join(tables) or 'event'} data between {self.start} and {self.stop}"
            )
        return present

    def _table_query(self, ctx: Context, table: str) -> sql.Composable:
        columns: list[sql.Composable] = [
            sql.SQL("{} AS subscriber").format(sql.Identifier(self.subscriber_identifier))
        ]
        columns += [sql.Identifier(c) for c in self.columns]
        where: list[sql.Composable] = [
            sql.SQL("datetime >= {}").format(timestamp_literal(self.start)),
            sql.SQL("datetime < {}").format(timestamp_literal(self.stop)),
        ]
        hours = hours_clause(self.hours, sql.Identifier("datetime"))
        if hours is not None:
            where.append(hours)
        if self.direction == "out":
            where.append(sql.SQL("outgoing"))
        elif self.direction == "in":
            where.append(sql.SQL("NOT outgoing"))
        if self.subscriber_subset is not None:
            where.append(
                sql.SQL("{} IN (SELECT subscriber FROM ({}) _subset)").format(
                    sql.Identifier(self.subscriber_identifier),
                    self.subscriber_subset.get_query(ctx),
                )
            )
        return sql.SQL("SELECT {} FROM {} WHERE {}").format(
            sql.SQL(", ").join(columns),
            sql.Identifier("events", table),
            sql.SQL(" AND ").join(where),
        )

    def table_queries(self, ctx: Context) -> list[sql.Composable]:
        """One query per events table with data in the window; this query is their UNION ALL."""
        return [self._table_query(ctx, t) for t in self.resolved_tables(ctx)]

    def _make_query(self, ctx: Context) -> sql.Composable:
        return sql.SQL(" UNION ALL ").join(self.table_queries(ctx))


class FromEvents:
    """For queries built on `self.events` (an EventsTablesUnion): its window."""

    events: EventsTablesUnion

    @property
    def start(self) -> dt.datetime:
        return self.events.start

    @property
    def stop(self) -> dt.datetime:
        return self.events.stop
