"""UniqueLocations: every distinct location each subscriber was seen at in the window (one row each)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from psycopg import sql

from flowmachine.core.sql_parts import identifiers
from flowmachine.features.subscriber.base_location import LocationsFromEvents

if TYPE_CHECKING:
    from flowmachine.core.context import Context


class UniqueLocations(LocationsFromEvents):
    def _make_query(self, ctx: Context) -> sql.Composable:
        return sql.SQL(
            "SELECT subscriber, {L} FROM ({locations}) s GROUP BY subscriber, {L}"
        ).format(
            L=identifiers(self.location_columns),
            locations=self.subscriber_locations.get_query(ctx),
        )
