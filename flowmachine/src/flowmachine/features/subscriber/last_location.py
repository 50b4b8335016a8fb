"""LastLocation: each subscriber's location at their latest located event in the window.

Ties (two events in the same instant at different places) go to the greater cell id, so the answer does not
depend on the plan (FlowKit's is arbitrary).

Computed in two steps, so that the day's events need no sort:

1. each subscriber's latest event at any cell, `DISTINCT ON` in descending (subscriber, time, cell) order. FlowDB's
   `msisdn` index holds exactly that order (`(msisdn, datetime, location_id)`), so this is one index-only scan;
   without the index it is a sort of three narrow columns;
2. that event's location. The latest event of the few subscribers the unit cannot place there (a cell outside
   every region, or out of service) is not their latest *located* one: for them alone, the latest located event
   is looked up (a LATERAL lookup by the msisdn index, skipped for everyone else). When a loose scan of the
   window's distinct cells proves that the unit places every event (the usual case), the fallback is left out
   of the SQL altogether: its per-subscriber nested loop cost a third of the query.

Ordered over all events, the latest event is also the latest located one whenever it is located itself, so the
two steps give exactly the rows of `DISTINCT ON` over all located events (ADR 0006).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from psycopg import sql

from flowmachine.core.spatial_unit import CellSpatialUnit
from flowmachine.core.sql_parts import identifiers
from flowmachine.features.subscriber.base_location import LocationsFromEvents

if TYPE_CHECKING:
    from flowmachine.core.context import Context


class LastLocation(LocationsFromEvents):
    def _make_query(self, ctx: Context) -> sql.Composable:
        located = self.subscriber_locations
        cells = isinstance(self.spatial_unit, CellSpatialUnit)
        known = sql.SQL(" AND e.location_id <> ''" if cells else "")
        # PostgreSQL merges index-ordered scans of partitions, but not of a UNION ALL of partitioned tables:
        # the latest event is taken in each table (in its index order), then the latest of those.
        per_table = [_latest(table, known) for table in located.events.table_queries(ctx)]
        latest = (
            per_table[0]
            if len(per_table) == 1
            else _latest(
                sql.SQL(" UNION ALL ").join(sql.SQL("({})").format(q) for q in per_table),
                sql.SQL(""),
            )
        )
        columns = self.location_columns
        if cells:  # every event with a cell id is located
            return sql.SQL("SELECT subscriber, location_id FROM ({latest}) l").format(latest=latest)
        if located.every_event_located(ctx):  # so every latest event is, and needs no fallback
            return sql.SQL("SELECT subscriber, {columns} FROM ({located}) l").format(
                columns=identifiers(columns), located=located.locate(ctx, latest)
            )
        # Subscribers whose latest event is located take its location; the others look up their latest
        # located event on their own (a LATERAL lookup that runs only for them, by the msisdn index).
        chosen = sql.SQL(", ").join(
            sql.SQL("CASE WHEN c._located THEN {} ELSE {} END AS {}").format(
                sql.Identifier("c", col), sql.Identifier("f", col), sql.Identifier(col)
            )
            for col in columns
        )
        return sql.SQL(
            """SELECT c.subscriber, {chosen}
               FROM ({candidates}) c
               LEFT JOIN LATERAL (
                   SELECT {sL}, true AS _found FROM ({locations}) s
                   WHERE NOT c._located AND s.subscriber = c.subscriber
                   ORDER BY s.time DESC, s.location_id DESC LIMIT 1) f ON true
               WHERE c._located OR f._found"""
        ).format(
            chosen=chosen,
            candidates=located.locate(ctx, latest, keep_unlocated=True),
            sL=identifiers(columns, "s"),
            locations=located.get_query(ctx),
        )


def _latest(events: sql.Composable, condition: sql.Composable) -> sql.Composable:
    """`subscriber, datetime, location_id` of each subscriber's latest event with a location in `events`."""
    return sql.SQL(
        """SELECT DISTINCT ON (e.subscriber) e.subscriber, e.datetime, e.location_id
           FROM ({events}) e WHERE e.location_id IS NOT NULL{condition}
           ORDER BY e.subscriber DESC, e.datetime DESC, e.location_id DESC"""
    ).format(events=events, condition=condition)
