"""LocationVisits: in how many of several reference locations (e.g. daily locations) each subscriber was at
each location: `subscriber, <location columns>, value`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from psycopg import sql

from flowmachine.core.errors import InvalidSpecError
from flowmachine.core.query import Query
from flowmachine.core.spatial_unit import SpatialUnit
from flowmachine.core.sql_parts import identifiers
from flowmachine.features.subscriber.base_location import BaseLocation, spatial_unit_of

if TYPE_CHECKING:
    from flowmachine.core.context import Context


def same_unit(locations: Sequence[Query], what: str) -> SpatialUnit:
    """The one spatial unit shared by `locations` (an InvalidSpecError otherwise)."""
    if not locations:
        raise InvalidSpecError(f"{what} needs at least one location query")
    units = {spatial_unit_of(loc) for loc in locations}
    if len(units) != 1:
        raise InvalidSpecError(f"every location of a {what} must use the same spatial unit")
    return spatial_unit_of(locations[0])


class LocationVisits(Query):
    """The number of input locations (periods) placing each subscriber at each location."""

    def __init__(self, locations: Sequence[BaseLocation]) -> None:
        same_unit(locations, "location_visits")
        self.locations = tuple(locations)
        super().__init__()

    @property
    def spatial_unit(self) -> SpatialUnit:
        return self.locations[0].spatial_unit

    @property
    def location_columns(self) -> tuple[str, ...]:
        return self.spatial_unit.location_id_columns

    @property
    def column_names(self) -> list[str]:
        return ["subscriber", *self.location_columns, "value"]

    def _make_query(self, ctx: Context) -> sql.Composable:
        L = identifiers(self.location_columns)
        periods = sql.SQL(" UNION ALL ").join(
            sql.SQL("SELECT subscriber, {L} FROM ({q}) p").format(L=L, q=loc.get_query(ctx))
            for loc in self.locations
        )
        return sql.SQL(
            "SELECT subscriber, {L}, count(*) AS value FROM ({periods}) u GROUP BY subscriber, {L}"
        ).format(L=L, periods=periods)
