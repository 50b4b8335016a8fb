"""MostFrequentLocation: each subscriber's location with the most events in the window.

A tie on the count goes to the location whose latest event is most recent (as in FlowKit), then to the
greater location.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from psycopg import sql

from flowmachine.core.sql_parts import identifiers
from flowmachine.features.subscriber.base_location import LocationsFromEvents

if TYPE_CHECKING:
    from flowmachine.core.context import Context


class MostFrequentLocation(LocationsFromEvents):
    def _make_query(self, ctx: Context) -> sql.Composable:
        return sql.SQL(
            """SELECT DISTINCT ON (subscriber) subscriber, {L}
               FROM (SELECT subscriber, {L}, count(*) AS events, max(time) AS latest
                     FROM ({locations}) s GROUP BY subscriber, {L}) g
               ORDER BY subscriber, events DESC, latest DESC, {L_desc}"""
        ).format(
            L=identifiers(self.location_columns),
            L_desc=identifiers(self.location_columns, suffix=" DESC"),
            locations=self.subscriber_locations.get_query(ctx),
        )
