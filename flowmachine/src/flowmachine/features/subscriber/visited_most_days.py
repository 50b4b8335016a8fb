"""VisitedMostDays: each subscriber's location seen on the most distinct days of the window.

Ties go to the location with more events, then to the one with the most recent event, then to the greater
location: deterministic, where FlowKit's last resort is `RANDOM()`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from psycopg import sql

from flowmachine.core.sql_parts import identifiers
from flowmachine.features.subscriber.base_location import LocationsFromEvents

if TYPE_CHECKING:
    from flowmachine.core.context import Context


class VisitedMostDays(LocationsFromEvents):
    def _make_query(self, ctx: Context) -> sql.Composable:
        return sql.SQL(
            """SELECT DISTINCT ON (subscriber) subscriber, {L}
               FROM (SELECT subscriber, {L}, count(DISTINCT time::date) AS days, count(*) AS events,
                            max(time) AS latest
                     FROM ({locations}) s GROUP BY subscriber, {L}) g
               ORDER BY subscriber, days DESC, events DESC, latest DESC, {L_desc}"""
        ).format(
            L=identifiers(self.location_columns),
            L_desc=identifiers(self.location_columns, suffix=" DESC"),
            locations=self.subscriber_locations.get_query(ctx),
        )
