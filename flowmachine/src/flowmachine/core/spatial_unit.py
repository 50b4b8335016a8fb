"""Spatial units: how an event's cell becomes a location (a region, a point, a versioned cell or site).

Every unit except `cell` is a query of its own: a *mapping* with one row per cell version,

    location_id, date_of_first_service, date_of_last_service, <location columns>

computed once (point-in-polygon for admin units) into an ANALYZEd cache table. Event queries join events to it
on `location_id` and the cell's service dates (see `SubscriberLocations`), so the planner sees real row counts
and hashes a few thousand mapping rows instead of running a point-in-polygon test per event.

A cell on the border of two regions belongs to the region with the smallest pcod (FlowKit's `ST_Within` drops
it); a cell outside every region has no row, so its events are not located (as in FlowKit).

A unit's geography (`geography_query`) is SQL that FlowAPI's database role may run: the admin units read
`geography.admin<level>`; the units built on cells and sites read their points from a cache table
(`network_geography.NetworkGeography`), never `infrastructure`, which that role cannot read.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, ClassVar

from psycopg import sql

from flowmachine.core.errors import InvalidSpecError
from flowmachine.core.network_geography import NETWORK_UNITS, NetworkGeography, stored_rows
from flowmachine.core.query import Query

if TYPE_CHECKING:
    from flowmachine.core.context import Context

ADMIN_LEVELS = (0, 1, 2, 3)
SERVICE_COLUMNS = ("date_of_first_service", "date_of_last_service")


# Polygon layers loaded by `flowdb load-geography` (flowmachine.core.custom_geography holds the rest).
LAYER_SCHEMA = "custom_geography"
LAYER_REGISTRY = "layers"
POLYGON_PREFIX = "polygon-"
# The layer names `flowdb load-geography --layer` accepts (flowdb.custom_geography.LAYER_NAME).
LAYER_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}\Z")


class CellSpatialUnit:
    """Locations are the raw `location_id` of events: no mapping, no service dates."""

    name: ClassVar[str] = "cell"
    location_id_columns: ClassVar[tuple[str, ...]] = ("location_id",)
    is_network_object: ClassVar[bool] = True
    has_geography: ClassVar[bool] = False
    has_lon_lat_columns: ClassVar[bool] = False

    def canonical(self) -> str:
        return self.name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CellSpatialUnit)

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return "CellSpatialUnit()"


class GeomSpatialUnit(Query):
    """A cell-version → location mapping, stored in the cache like any query."""

    name: ClassVar[str]
    location_id_columns: ClassVar[tuple[str, ...]]
    is_network_object: ClassVar[bool] = False
    has_geography: ClassVar[bool] = True
    has_lon_lat_columns: ClassVar[bool] = False
    store_first = True  # joined well only once stored and ANALYZEd (ADR 7)

    @property
    def column_names(self) -> list[str]:
        extra = [c for c in self.location_id_columns if c != "location_id"]
        return ["location_id", *SERVICE_COLUMNS, *extra]

    def geography_query(self, ctx: Context) -> sql.Composable:
        """`{L}, geom` of every location of this unit (for the `geography` kind and GeoJSON output), as SQL
        reading only `geography` and `cache` (FlowAPI runs it as its own role)."""
        source = self.geography_source()
        if source is None:
            raise NotImplementedError(f"{self.name} has no geometry query")
        return stored_rows(ctx, source)

    def geography_source(self) -> NetworkGeography | None:
        """The cached query holding this unit's points, for the units built on the network."""
        return NetworkGeography(self.name) if self.name in NETWORK_UNITS else None


class AdminSpatialUnit(GeomSpatialUnit):
    """Administrative regions `geography.admin<level>`, identified by `pcod`."""

    location_id_columns = ("pcod",)
    is_polygon: ClassVar[bool] = True

    def __init__(self, level: int) -> None:
        if level not in ADMIN_LEVELS:
            raise InvalidSpecError(f"admin level must be one of 0, 1, 2, 3, not {level!r}")
        self.level = int(level)
        super().__init__()

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"admin{self.level}"

    def _table(self) -> sql.Identifier:
        return sql.Identifier("geography", f"admin{self.level}")

    def _make_query(self, ctx: Context) -> sql.Composable:
        return sql.SQL(
            """SELECT DISTINCT ON (c.cell_id)
                   c.id AS location_id, c.date_of_first_service, c.date_of_last_service, a.{pcod} AS pcod
               FROM infrastructure.cells c
               JOIN {admin} a ON ST_Covers(a.geom, c.geom_point)
               ORDER BY c.cell_id, a.{pcod}"""
        ).format(pcod=sql.Identifier(f"admin{self.level}pcod"), admin=self._table())

    def geography_query(self, ctx: Context) -> sql.Composable:
        return sql.SQL("SELECT {pcod} AS pcod, geom FROM {admin}").format(
            pcod=sql.Identifier(f"admin{self.level}pcod"), admin=self._table()
        )


class LonLatSpatialUnit(GeomSpatialUnit):
    """The cell's point as `lon, lat` (WGS 84)."""

    name = "lon-lat"
    location_id_columns = ("lon", "lat")
    has_lon_lat_columns = True

    def __init__(self) -> None:
        super().__init__()

    def _make_query(self, ctx: Context) -> sql.Composable:
        return sql.SQL(
            """SELECT id AS location_id, date_of_first_service, date_of_last_service,
                      ST_X(geom_point) AS lon, ST_Y(geom_point) AS lat
               FROM infrastructure.cells WHERE geom_point IS NOT NULL"""
        )


class VersionedCellSpatialUnit(GeomSpatialUnit):
    """The cell itself, with its version and point."""

    name = "versioned-cell"
    location_id_columns = ("location_id", "version", "lon", "lat")
    is_network_object = True
    has_lon_lat_columns = True

    def __init__(self) -> None:
        super().__init__()

    def _make_query(self, ctx: Context) -> sql.Composable:
        return sql.SQL(
            """SELECT id AS location_id, date_of_first_service, date_of_last_service, version,
                      ST_X(geom_point) AS lon, ST_Y(geom_point) AS lat
               FROM infrastructure.cells"""
        )


class VersionedSiteSpatialUnit(GeomSpatialUnit):
    """The cell's site (`infrastructure.sites`), with the site's version and point.

    A cell is mapped to each version of its site over the days both were in service.
    """

    name = "versioned-site"
    location_id_columns = ("site_id", "version", "lon", "lat")
    is_network_object = True
    has_lon_lat_columns = True

    def __init__(self) -> None:
        super().__init__()

    def _make_query(self, ctx: Context) -> sql.Composable:
        return sql.SQL(
            """SELECT c.id AS location_id,
                      CASE WHEN c.date_of_first_service IS NULL THEN s.date_of_first_service
                           WHEN s.date_of_first_service IS NULL THEN c.date_of_first_service
                           ELSE greatest(c.date_of_first_service, s.date_of_first_service)
                      END AS date_of_first_service,
                      CASE WHEN c.date_of_last_service IS NULL THEN s.date_of_last_service
                           WHEN s.date_of_last_service IS NULL THEN c.date_of_last_service
                           ELSE least(c.date_of_last_service, s.date_of_last_service)
                      END AS date_of_last_service,
                      s.id AS site_id, s.version, ST_X(s.geom_point) AS lon, ST_Y(s.geom_point) AS lat
               FROM infrastructure.cells c
               JOIN infrastructure.sites s ON c.site_id = s.id
               WHERE coalesce(c.date_of_first_service, '-infinity'::date)
                         <= coalesce(s.date_of_last_service, 'infinity'::date)
                 AND coalesce(s.date_of_first_service, '-infinity'::date)
                         <= coalesce(c.date_of_last_service, 'infinity'::date)"""
        )


SpatialUnit = CellSpatialUnit | GeomSpatialUnit

UNIT_NAMES = (
    "admin0",
    "admin1",
    "admin2",
    "admin3",
    "lon-lat",
    "versioned-cell",
    "versioned-site",
    "cell",
)


def loaded_layers(ctx: Context) -> list[str]:
    """The names of the polygon layers in custom_geography.layers (none if FlowDB has no such schema)."""
    with ctx.pool.connection() as conn:
        exists = conn.execute(
            "SELECT to_regclass(%s) IS NOT NULL", (f"{LAYER_SCHEMA}.{LAYER_REGISTRY}",)
        ).fetchone()
        if not exists or not exists[0]:
            return []
        rows = conn.execute(
            sql.SQL("SELECT name FROM {} ORDER BY name").format(
                sql.Identifier(LAYER_SCHEMA, LAYER_REGISTRY)
            )
        ).fetchall()
    return [r[0] for r in rows if isinstance(r[0], str) and LAYER_NAME.match(r[0])]


class PolygonLayerSpatialUnit(GeomSpatialUnit):
    """The regions of the loaded layer `custom_geography.<layer>`, identified by `pcod`."""

    location_id_columns = ("pcod",)
    is_polygon: ClassVar[bool] = True

    def __init__(self, layer: str) -> None:
        if not isinstance(layer, str) or not LAYER_NAME.match(layer):
            raise InvalidSpecError(f"{layer!r} is not a layer name")
        self.layer = layer
        super().__init__()

    @property
    def name(self) -> str:  # type: ignore[override]  # a per-instance name; the base declares a ClassVar
        return POLYGON_PREFIX + self.layer

    def check(self, ctx: Context) -> None:
        if self.layer not in loaded_layers(ctx):
            raise InvalidSpecError(
                f"no polygon layer {self.layer!r} is loaded (flowdb load-geography FILE --layer {self.layer})"
            )

    def _table(self) -> sql.Identifier:
        return sql.Identifier(LAYER_SCHEMA, self.layer)

    def _make_query(self, ctx: Context) -> sql.Composable:
        return sql.SQL(
            """SELECT DISTINCT ON (c.cell_id)
                   c.id AS location_id, c.date_of_first_service, c.date_of_last_service, p.pcod
               FROM infrastructure.cells c
               JOIN {layer} p ON ST_Covers(p.geom, c.geom_point)
               ORDER BY c.cell_id, p.pcod"""
        ).format(layer=self._table())

    def geography_query(self, ctx: Context) -> sql.Composable:
        return sql.SQL("SELECT pcod, name, geom FROM {}").format(self._table())


def make_spatial_unit(name: str) -> SpatialUnit:
    """The unit called `name`: admin0..admin3, lon-lat, versioned-cell, versioned-site, cell or
    polygon-<layer>."""
    if name in {"admin0", "admin1", "admin2", "admin3"}:
        return AdminSpatialUnit(int(name[-1]))
    if name == "lon-lat":
        return LonLatSpatialUnit()
    if name == "versioned-cell":
        return VersionedCellSpatialUnit()
    if name == "versioned-site":
        return VersionedSiteSpatialUnit()
    if name == "cell":
        return CellSpatialUnit()
    if name.startswith(POLYGON_PREFIX):  # a loaded layer
        return PolygonLayerSpatialUnit(name[len(POLYGON_PREFIX) :])
    raise InvalidSpecError(
        f"unknown spatial unit {name!r}; expected one of {', '.join(UNIT_NAMES)}"
    )
