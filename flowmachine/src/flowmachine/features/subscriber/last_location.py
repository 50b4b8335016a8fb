"""LastLocation: each subscriber's location at their latest event in the window.

Ties (two events in the same instant at different places) go to the greater cell id, so the answer does not
depend on the plan (FlowKit's is arbitrary).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from psycopg import sql

from flowmachine.core.sql_parts import identifiers
from flowmachine.features.subscriber.base_location import LocationsFromEvents

if TYPE_CHECKING:
    from flowmachine.core.context import Context


class LastLocation(LocationsFromEvents):
    def _make_query(self, ctx: Context) -> sql.Composable:
        return sql.SQL(
            """SELECT DISTINCT ON (subscriber) subscriber, {L}
               FROM ({locations}) s
               ORDER BY subscriber, time DESC, location_id DESC"""
        ).format(
            L=identifiers(self.location_columns),
            locations=self.subscriber_locations.get_query(ctx),
        )
