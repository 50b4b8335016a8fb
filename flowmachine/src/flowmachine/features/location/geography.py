"""Geography: every location of a spatial unit with its geometry (`<L>, geom`), for maps and GeoJSON."""

from __future__ import annotations

from typing import TYPE_CHECKING

from psycopg import sql

from flowmachine.core.errors import InvalidSpecError
from flowmachine.core.query import Query
from flowmachine.core.spatial_unit import GeomSpatialUnit, SpatialUnit

if TYPE_CHECKING:
    from flowmachine.core.context import Context


class Geography(Query):
    def __init__(self, spatial_unit: SpatialUnit) -> None:
        if not isinstance(spatial_unit, GeomSpatialUnit):
            raise InvalidSpecError(f"the {spatial_unit.name} unit has no geography")
        self.spatial_unit = spatial_unit
        # the cached points a network unit's geography reads: a dependency, so stored before this runs
        self.source = spatial_unit.geography_source()
        super().__init__()

    @property
    def location_columns(self) -> tuple[str, ...]:
        return self.spatial_unit.location_id_columns

    @property
    def column_names(self) -> list[str]:
        return [*self.location_columns, "geom"]

    def _make_query(self, ctx: Context) -> sql.Composable:
        return self.spatial_unit.geography_query(ctx)
