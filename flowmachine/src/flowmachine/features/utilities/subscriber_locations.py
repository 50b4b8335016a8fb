"""Where each subscriber was at each event: `subscriber, time, location_id, <location columns of the unit>`.

Events are joined to the unit's cell mapping on `location_id` and on the cell's service dates. A mapping row
whose service covers the whole window is joined without any per-event date test; only cells whose service
starts or ends inside the window have their dates checked per event. Events at unknown cells, outside a cell's
service, or without a location are dropped (as in FlowKit).

When no mapping row starts or ends service inside the window (the usual case: one lookup in the small,
stored mapping tells), the join is a plain equi-join on `location_id` with no per-event test at all. This
matters beyond the test's cost: the planner cannot estimate the per-event date test (nor `coalesce` over
dates), so with it a day of events is estimated at 2 % of its rows and joined by a nested loop of index scans
in random heap order, 2-3x slower than the hash join over a sequential scan it picks when it sees the truth.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from psycopg import sql

from flowmachine.core.dates import date_literal, timestamp_literal
from flowmachine.core.db_values import first_value
from flowmachine.core.query import Query
from flowmachine.core.spatial_unit import CellSpatialUnit, GeomSpatialUnit, SpatialUnit
from flowmachine.features.utilities.events_tables_union import EventsTablesUnion

if TYPE_CHECKING:
    from flowmachine.core.context import Context


# Whether every partition of an events table has a plain index led by location_id (for a loose scan).
LOCATION_INDEXED_SQL = """
SELECT count(*) > 0 AND bool_and(EXISTS (
           SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
           WHERE i.indrelid = t.relid AND a.attname = 'location_id' AND i.indpred IS NULL AND i.indisvalid))
FROM pg_partition_tree(%s::regclass) t WHERE t.isleaf
"""
# Whether some location id of the window's events is not placed by the mapping for the whole window: the
# distinct ids come from a loose index scan (each step the next greater id, by one descent per partition).
UNPLACED_LOCATION_SQL = """
WITH RECURSIVE ids(id) AS (
    SELECT min(location_id) FROM {table} WHERE datetime >= {start} AND datetime < {stop}
    UNION ALL
    SELECT (SELECT min(location_id) FROM {table}
            WHERE datetime >= {start} AND datetime < {stop} AND location_id > ids.id)
    FROM ids WHERE ids.id IS NOT NULL)
SELECT EXISTS (
    SELECT 1 FROM ids WHERE ids.id IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM ({mapping}) u WHERE u.location_id = ids.id AND {whole_window}))
"""


class SubscriberLocations(Query):
    """One row per located event in the window."""

    storable: ClassVar[bool] = False

    def __init__(
        self,
        start: str | dt.date | dt.datetime,
        stop: str | dt.date | dt.datetime,
        spatial_unit: SpatialUnit,
        *,
        tables: str | Sequence[str] | None = None,
        hours: Sequence[int] | None = None,
        subscriber_subset: Query | None = None,
        direction: str = "both",
        extra_columns: Sequence[str] = (),
    ) -> None:
        self.spatial_unit = spatial_unit
        self.extra_columns = tuple(extra_columns)
        self.events = EventsTablesUnion(
            start,
            stop,
            columns=["datetime", "location_id", *self.extra_columns],
            tables=tables,
            hours=hours,
            subscriber_subset=subscriber_subset,
            direction=direction,
        )
        super().__init__()

    @property
    def start(self) -> dt.datetime:
        return self.events.start

    @property
    def stop(self) -> dt.datetime:
        return self.events.stop

    @property
    def location_columns(self) -> tuple[str, ...]:
        return self.spatial_unit.location_id_columns

    @property
    def column_names(self) -> list[str]:
        extra = [c for c in self.location_columns if c != "location_id"]
        return ["subscriber", "time", "location_id", *extra, *self.extra_columns]

    def _make_query(self, ctx: Context) -> sql.Composable:
        return self.locate(ctx, self.events.get_query(ctx))

    def locate(
        self, ctx: Context, events: sql.Composable, *, keep_unlocated: bool = False
    ) -> sql.Composable:
        """`events` (rows of `subscriber, datetime, location_id` and the extra columns, in this window)
        located in this query's spatial unit: the rows of this query for those events.

        With `keep_unlocated` (admin, lon-lat and versioned units only), events the unit cannot place are kept
        too, with NULL location columns, and a last column `_located` tells which is which.
        """
        extra = [sql.Identifier("e", c) for c in self.extra_columns]
        if isinstance(self.spatial_unit, CellSpatialUnit):
            return sql.SQL(
                """SELECT e.subscriber, e.datetime AS time, e.location_id{extra}
                   FROM ({events}) e WHERE e.location_id IS NOT NULL AND e.location_id <> ''"""
            ).format(
                extra=sql.SQL("").join(sql.SQL(", {}").format(c) for c in extra), events=events
            )
        unit: GeomSpatialUnit = self.spatial_unit
        join = sql.SQL("LEFT JOIN" if keep_unlocated else "JOIN")
        location = [sql.Identifier("m", c) for c in self.location_columns if c != "location_id"]
        selected = [
            sql.SQL("e.subscriber"),
            sql.SQL("e.datetime AS time"),
            sql.SQL("e.location_id"),
            *location,
            *extra,
        ]
        if keep_unlocated:
            selected.append(sql.SQL("m.location_id IS NOT NULL AS _located"))
        mapping = unit.get_query(ctx)
        overlaps, whole_window = self._service_conditions()
        if not self._some_cell_partly_in_service(ctx, mapping, overlaps, whole_window):
            return sql.SQL(
                """SELECT {selected}
                   FROM ({events}) e
                   {join} (SELECT u.* FROM ({mapping}) u WHERE {overlaps}) m ON e.location_id = m.location_id"""
            ).format(
                join=join,
                selected=sql.SQL(", ").join(selected),
                events=events,
                mapping=mapping,
                overlaps=overlaps,
            )
        return sql.SQL(
            """SELECT {selected}
               FROM ({events}) e
               {join} (SELECT u.*, {whole_window} AS whole_window
                     FROM ({mapping}) u WHERE {overlaps}) m
                 ON e.location_id = m.location_id
                AND (m.whole_window OR e.datetime::date BETWEEN
                         coalesce(m.date_of_first_service, '-infinity'::date)
                         AND coalesce(m.date_of_last_service, 'infinity'::date))"""
        ).format(
            join=join,
            selected=sql.SQL(", ").join(selected),
            events=events,
            mapping=mapping,
            whole_window=whole_window,
            overlaps=overlaps,
        )

    def _service_conditions(self) -> tuple[sql.Composable, sql.Composable]:
        """Conditions on a mapping row `u`: in service on some day of the window; on every day of it.

        Written with IS NULL / comparisons on the columns (not coalesce) so the planner can use their
        statistics."""
        first = date_literal(self.start.date())
        last = date_literal((self.stop - dt.timedelta(microseconds=1)).date())
        overlaps = sql.SQL(
            "(u.date_of_first_service IS NULL OR u.date_of_first_service <= {last}) "
            "AND (u.date_of_last_service IS NULL OR u.date_of_last_service >= {first})"
        ).format(first=first, last=last)
        whole_window = sql.SQL(
            "(u.date_of_first_service IS NULL OR u.date_of_first_service <= {first}) "
            "AND (u.date_of_last_service IS NULL OR u.date_of_last_service >= {last})"
        ).format(first=first, last=last)
        return overlaps, whole_window

    def every_event_located(self, ctx: Context) -> bool:
        """Whether this unit places every event with a location in the window, proven cheaply, or False.

        The proof reads the distinct location ids of the window's partitions by a loose scan of their
        `location_id` indexes (one descent per distinct cell and partition, not a scan of the events) and
        finds each in the mapping, in service for the whole window. Without such an index on every partition
        it does not try and says False. Filters on hours, direction or subscribers are ignored: the ids of
        the whole window are a superset of those of the filtered events, so True stays exact.
        """
        if isinstance(self.spatial_unit, CellSpatialUnit):
            return False
        tables = self.events.resolved_tables(ctx)
        # composed before the connection is taken: composing looks up the mapping on its own connection
        unplaced = [self.unplaced_location_query(ctx, table) for table in tables]
        with ctx.pool.connection() as conn:
            for table in tables:
                if not first_value(conn.execute(LOCATION_INDEXED_SQL, (f"events.{table}",))):
                    return False
            return not any(first_value(conn.execute(query)) for query in unplaced)

    def unplaced_location_query(self, ctx: Context, table: str) -> sql.Composed:
        """One boolean: whether some location id of `table`'s events in the window is not placed by the
        mapping for the whole window (see `every_event_located`)."""
        unit = self.spatial_unit
        if not isinstance(unit, GeomSpatialUnit):  # every_event_located answers cell units itself
            raise TypeError(f"{unit.name} events need no mapping to be placed")
        return sql.SQL(UNPLACED_LOCATION_SQL).format(
            table=sql.Identifier("events", table),
            start=timestamp_literal(self.start),
            stop=timestamp_literal(self.stop),
            mapping=unit.get_query(ctx),
            whole_window=self._service_conditions()[1],
        )

    @staticmethod
    def _some_cell_partly_in_service(
        ctx: Context,
        mapping: sql.Composable,
        overlaps: sql.Composable,
        whole_window: sql.Composable,
    ) -> bool:
        """Whether some mapping row starts or ends service inside the window (so events need date checks)."""
        with ctx.pool.connection() as conn:
            some = first_value(
                conn.execute(
                    sql.SQL(
                        "SELECT EXISTS (SELECT 1 FROM ({mapping}) u WHERE {overlaps} AND NOT ({whole_window}))"
                    ).format(mapping=mapping, overlaps=overlaps, whole_window=whole_window)
                )
            )
        return bool(some)


class FromSubscriberLocations:
    """For queries built on `self.subscriber_locations`: its spatial unit, location columns and window."""

    subscriber_locations: SubscriberLocations

    @property
    def spatial_unit(self) -> SpatialUnit:
        return self.subscriber_locations.spatial_unit

    @property
    def location_columns(self) -> tuple[str, ...]:
        return self.subscriber_locations.location_columns

    @property
    def start(self) -> dt.datetime:
        return self.subscriber_locations.start

    @property
    def stop(self) -> dt.datetime:
        return self.subscriber_locations.stop
