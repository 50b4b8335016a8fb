"""`flowdb make-grid --size-km N`: a grid of N km squares over the country, as the polygon layer `grid_<N>km`.

FlowKit's `grid` unit (Python-only there) covers admin0 with squares of N km; here the squares are laid out
in a Lambert azimuthal equal-area projection centred on admin0 (so every square is N km a side and N² km² in
area, wherever it lies), those touching admin0 are kept, and the grid is stored like any loaded layer
(`layer_import.write_layer`): the aggregation unit `polygon-grid_<N>km`, with region ids `<N>_<column>_<row>`.
"""

from __future__ import annotations

import argparse
import math

import psycopg

from flowdb.errors import FlowDBError
from flowdb.layer_import import write_layer
from flowdb.settings import Settings

MIN_SIZE_KM = 0.1
MAX_SIZE_KM = 1000.0
MAX_SQUARES = 100_000


def grid_layer_name(size_km: float) -> str:
    """`grid_5km`, `grid_2_5km` for 2.5 km."""
    text = f"{size_km:g}".replace(".", "_")
    return f"grid_{text}km"


def _projection(conn: psycopg.Connection) -> str:
    row = conn.execute(
        """SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Centroid(ST_Union(geom)) AS c FROM geography.admin0) t
           WHERE c IS NOT NULL"""
    ).fetchone()
    if row is None:
        raise FlowDBError(
            "geography.admin0 is empty: load the country first (load-geography --level 0)"
        )
    lon, lat = float(row[0]), float(row[1])
    return (
        f"+proj=laea +lat_0={lat:.6f} +lon_0={lon:.6f} +x_0=0 +y_0=0 +datum=WGS84 +units=m +no_defs"
    )


def make_grid(
    conn: psycopg.Connection, size_km: float, layer: str | None = None
) -> tuple[str, int]:
    """Create the layer of `size_km` squares over admin0; return its name and how many squares it has."""
    if not isinstance(size_km, int | float) or not math.isfinite(size_km):
        raise FlowDBError(f"grid size must be a number of km, not {size_km!r}")
    if not MIN_SIZE_KM <= size_km <= MAX_SIZE_KM:
        raise FlowDBError(
            f"grid size must be between {MIN_SIZE_KM:g} and {MAX_SIZE_KM:g} km, not {size_km:g}"
        )
    layer = layer or grid_layer_name(size_km)
    proj = _projection(conn)
    size_m = size_km * 1000.0
    estimate = conn.execute(
        "SELECT ST_Area(ST_Transform(ST_Union(geom), %s::text)) FROM geography.admin0", (proj,)
    ).fetchone()
    if estimate is not None and estimate[0] is not None and estimate[0] / size_m**2 > MAX_SQUARES:
        raise FlowDBError(
            f"a {size_km:g} km grid would have over {MAX_SQUARES} squares over this country: choose larger squares"
        )
    squares = conn.execute(
        """WITH country AS (SELECT ST_Transform(ST_Union(geom), %(proj)s::text) AS geom FROM geography.admin0)
           SELECT s.i, s.j, ST_AsGeoJSON(ST_Transform(s.geom, %(proj)s::text, 4326), 9)
           FROM country, ST_SquareGrid(%(size)s, country.geom) s
           WHERE ST_Intersects(s.geom, country.geom) AND NOT ST_Touches(s.geom, country.geom)
           ORDER BY s.i, s.j""",
        {"proj": proj, "size": size_m},
    ).fetchall()
    prefix = f"{size_km:g}"
    rows = [
        (f"{prefix}_{i}_{j}", f"{prefix}_{i}_{j}", k, geojson)
        for k, (i, j, geojson) in enumerate(squares, start=1)
    ]
    if not rows:
        raise FlowDBError("no square of the grid touches geography.admin0")
    return layer, write_layer(conn, layer, rows, f"{size_km:g} km grid over geography.admin0")


def cmd_make_grid(settings: Settings, args: argparse.Namespace) -> int:
    """Handler of `flowdb make-grid`."""
    with psycopg.connect(settings.url(), autocommit=True) as conn:
        layer, n = make_grid(conn, args.size_km, args.layer)
    print(
        f"made {n} squares of {args.size_km:g} km into custom_geography.{layer} "
        f"(aggregation unit polygon-{layer})",
        flush=True,
    )
    return 0


def add_command(sub: argparse._SubParsersAction) -> None:
    """Register `make-grid` on the CLI's subparsers."""
    p = sub.add_parser(
        "make-grid",
        help="cover geography.admin0 with N km squares, as the polygon layer grid_<N>km",
        description="Cover geography.admin0 with squares of N km (equal-area, centred on the country) and "
        "store them as the polygon layer custom_geography.grid_<N>km, the aggregation unit "
        "polygon-grid_<N>km.",
    )
    p.add_argument("--size-km", type=float, required=True, help="side of a square, in km")
    p.add_argument("--layer", help="layer name (default grid_<N>km)")
    p.set_defaults(func=cmd_make_grid)
