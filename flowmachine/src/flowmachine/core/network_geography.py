"""The geography of the units built on the network's own points (cells, sites), kept in the cache.

FlowAPI's database role reads only `cache` and `geography`, never `infrastructure`, yet it streams the
geography of every unit (`GET geography/<unit>`, `get/<id>.geojson`). The admin units' geometries are in
`geography`; for `lon-lat`, `versioned-cell` and `versioned-site` FlowMachine computes the points from
`infrastructure` into a cache table (`NetworkGeography`) and hands FlowAPI SQL reading that table
(`stored_rows`). The rows are the operator's network, no subscriber's data: nothing to redact.

    source = NetworkGeography("lon-lat")    # lon, lat, geom: one row per distinct cell point
    rows = stored_rows(ctx, source)         # SELECT lon, lat, geom FROM cache.x<id> (computed if need be)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from psycopg import sql

from flowmachine.core.cache_compute import compute
from flowmachine.core.cache_eviction import invalidate
from flowmachine.core.cache_tables import read_cached
from flowmachine.core.errors import InvalidSpecError, QueryFailedError
from flowmachine.core.query import Query

if TYPE_CHECKING:
    from flowmachine.core.context import Context

# unit name -> (columns, SQL); fixed texts, no value from outside.
_SOURCES: dict[str, tuple[tuple[str, ...], str]] = {
    "lon-lat": (
        ("lon", "lat", "geom"),
        """SELECT DISTINCT ST_X(geom_point) AS lon, ST_Y(geom_point) AS lat, geom_point AS geom
           FROM infrastructure.cells WHERE geom_point IS NOT NULL""",
    ),
    "versioned-cell": (
        ("location_id", "version", "lon", "lat", "geom"),
        """SELECT id AS location_id, version, ST_X(geom_point) AS lon, ST_Y(geom_point) AS lat,
                  geom_point AS geom
           FROM infrastructure.cells""",
    ),
    "versioned-site": (
        ("site_id", "version", "lon", "lat", "geom"),
        """SELECT id AS site_id, version, ST_X(geom_point) AS lon, ST_Y(geom_point) AS lat,
                  geom_point AS geom
           FROM infrastructure.sites""",
    ),
}
NETWORK_UNITS = tuple(_SOURCES)


class NetworkGeography(Query):
    """The points of a network-based unit with their geometry (`<location columns>, geom`), from
    `infrastructure`; computed into the cache so FlowAPI's role can read them."""

    store_first = True  # read by the geography SQL FlowAPI runs, so stored before anything uses it

    def __init__(self, unit_name: str) -> None:
        if unit_name not in _SOURCES:
            raise InvalidSpecError(
                f"no network geography for {unit_name!r}; expected one of {', '.join(_SOURCES)}"
            )
        self.unit_name = unit_name
        super().__init__()

    @property
    def column_names(self) -> list[str]:
        return list(_SOURCES[self.unit_name][0])

    def _make_query(self, ctx: Context) -> sql.Composable:
        return sql.SQL(_SOURCES[self.unit_name][1])


def stored_rows(ctx: Context, query: Query) -> sql.Composable:
    """SQL reading `query`'s cache table, after computing it if it is not there.

    The read is recorded (FlowDB's `touch_cache`), so cache shrinking spares the table while a reader is
    about to use it. A computation that failed before (a transient database error) is forgotten and
    tried once more, rather than failing every later request."""
    try:
        compute(ctx, query)
    except QueryFailedError:
        invalidate(ctx, query.query_id, cascade=False)
        compute(ctx, query)
    read_cached(ctx, query)
    return sql.SQL("SELECT {} FROM {}").format(query.columns_sql(), query.table_identifier)
