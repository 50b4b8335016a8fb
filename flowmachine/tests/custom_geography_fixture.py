"""Custom geography over the fixture country (fixture_data): a polygon layer loaded with flowdb's loader,
mapping and geom tables, and the independent (shapely/pandas) mapping of every cell for each custom unit.

    with custom_geography(conn, tmp_dir): ...     # load everything; dropped again on exit
    unit_for("polygon-fx_strips")                  # the FlowMachine unit of a test unit name
    custom_mapping(fx, "admin2+mapping")           # location_id, first, last, <unit columns> (reference)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg
from shapely.geometry import Point, box, mapping

from flowdb.layer_import import load_layer
from flowmachine.core.server.query_schemas.aggregation_unit import get_spatial_unit_obj
from flowmachine.core.spatial_unit import SpatialUnit, make_spatial_unit

LAYER = "fx_strips"
# Three north-south strips over the 10..14 square; no cell lies on a border. A fourth region holds no cell.
STRIPS = {
    "W": box(10.0, 10.0, 11.2, 14.0),
    "M": box(11.2, 10.0, 12.7, 14.0),
    "E": box(12.7, 10.0, 14.0, 12.0),
    "NE": box(12.7, 12.0, 14.0, 14.0),
}
# mapping table for admin2: every cell placed in a quadrant that is NOT the one it lies in (so the result
# differs from point-in-polygon); C09 is left out (its events are not located).
CELL_ADMIN2 = {
    "C00": "Z.2.4",
    "C01": "Z.2.4",
    "C02": "Z.2.3",
    "C03": "Z.2.3",
    "C04": "Z.1.1",
    "C05": "Z.1.1",
    "C06": "Z.1.2",
    "C07": "Z.2.3",
    "C08": "Z.1.2",
}
# towers (geography.fx_towers, keyed by tower_id) and the cells' towers (custom_geography.fx_cell_tower)
TOWERS = {"T1": (10.25, 10.75), "T2": (13.25, 13.75), "T3": (12.0, 12.0)}
CELL_TOWER = {
    "C00": "T1",
    "C01": "T1",
    "C02": "T1",
    "C03": "T3",
    "C04": "T3",
    "C05": "T2",
    "C06": "T2",
    "C07": "T3",
    "C08": "T2",
    "C09": "T2",
}
# corrected cell points keyed by the cell id, without a mapping table (FlowKit's bug 13, fixed)
CELL_POINTS = {
    "C00": (10.75, 10.25),
    "C03": (10.75, 11.25),
    "C05": (13.25, 13.25),
    "C07": (11.5, 13.5),
}

CUSTOM_UNITS: dict[str, dict[str, Any]] = {
    "polygon-fx_strips": {"aggregation_unit": "polygon-fx_strips"},
    "admin2+mapping": {
        "aggregation_unit": "admin2",
        "mapping_table": "custom_geography.fx_cell_admin2",
    },
    "lon-lat+geom": {
        "aggregation_unit": "lon-lat",
        "geom_table": "custom_geography.fx_cell_points",
        "geom_table_join_column": "cell_id",
    },
    "lon-lat+mapping": {
        "aggregation_unit": "lon-lat",
        "mapping_table": "custom_geography.fx_cell_tower",
        "geom_table": "geography.fx_towers",
        "geom_table_join_column": "tower_id",
    },
}
CUSTOM_UNIT_COLUMNS = {
    "polygon-fx_strips": ["pcod"],
    "admin2+mapping": ["pcod"],
    "lon-lat+geom": ["lon", "lat"],
    "lon-lat+mapping": ["lon", "lat"],
}
TABLES = (
    "custom_geography.fx_cell_admin2",
    "custom_geography.fx_cell_points",
    "custom_geography.fx_cell_tower",
    "geography.fx_towers",
)


def unit_for(name: str) -> SpatialUnit:
    """The FlowMachine unit of a test unit name (a built-in name or a key of CUSTOM_UNITS)."""
    if name in CUSTOM_UNITS:
        fields = dict(CUSTOM_UNITS[name])
        return get_spatial_unit_obj(fields.pop("aggregation_unit"), **fields)
    return make_spatial_unit(name)


def api_fields(name: str) -> dict[str, Any]:
    """The spec fields naming the unit (aggregation_unit and any custom tables)."""
    return dict(CUSTOM_UNITS[name])


def _drop(conn: psycopg.Connection) -> None:
    for table in TABLES:
        conn.execute(f"DROP TABLE IF EXISTS {table}")
    conn.execute(f"DROP TABLE IF EXISTS custom_geography.{LAYER}")
    conn.execute("DELETE FROM custom_geography.layers WHERE name = %s", (LAYER,))


@contextmanager
def custom_geography(conn: psycopg.Connection, tmp_dir: Path) -> Iterator[None]:
    """Load the layer (with flowdb's loader, from a GeoJSON file) and the tables; drop them on exit."""
    conn.autocommit = True
    _drop(conn)
    path = Path(tmp_dir) / f"{LAYER}.geojson"
    features = [
        {"type": "Feature", "properties": {"code": k, "name": f"Strip {k}"}, "geometry": mapping(g)}
        for k, g in STRIPS.items()
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    load_layer(conn, path, LAYER, id_property="code")
    conn.execute("CREATE TABLE custom_geography.fx_cell_admin2 (id TEXT, admin2pcod TEXT)")
    for cell, pcod in CELL_ADMIN2.items():
        conn.execute("INSERT INTO custom_geography.fx_cell_admin2 VALUES (%s, %s)", (cell, pcod))
    conn.execute(
        "CREATE TABLE custom_geography.fx_cell_points (cell_id TEXT, geom_point geometry(POINT, 4326))"
    )
    for cell, (x, y) in CELL_POINTS.items():
        conn.execute(
            "INSERT INTO custom_geography.fx_cell_points VALUES (%s, ST_SetSRID(ST_MakePoint(%s, %s), 4326))",
            (cell, x, y),
        )
    conn.execute(
        "CREATE TABLE geography.fx_towers (tower_id TEXT PRIMARY KEY, geom_point geometry(POINT, 4326))"
    )
    for tower, (x, y) in TOWERS.items():
        conn.execute(
            "INSERT INTO geography.fx_towers VALUES (%s, ST_SetSRID(ST_MakePoint(%s, %s), 4326))",
            (tower, x, y),
        )
    conn.execute("CREATE TABLE custom_geography.fx_cell_tower (id TEXT, tower_id TEXT)")
    for cell, tower in CELL_TOWER.items():
        conn.execute("INSERT INTO custom_geography.fx_cell_tower VALUES (%s, %s)", (cell, tower))
    try:
        yield
    finally:
        _drop(conn)


def custom_mapping(cells: pd.DataFrame, unit: str) -> pd.DataFrame:
    """location_id, first, last, <unit columns> for each cell version (`cells`: fixture_data's cells frame,
    columns id, version, site_id, lon, lat, first, last), computed with shapely and dicts."""
    c = cells.rename(columns={"id": "location_id"})
    if unit == "polygon-fx_strips":
        pcods = []
        for x, y in zip(c.lon, c.lat, strict=True):
            inside = sorted(k for k, g in STRIPS.items() if g.covers(Point(x, y)))
            pcods.append(inside[0] if inside else None)
        return c.assign(pcod=pcods).dropna(subset=["pcod"])[
            ["location_id", "first", "last", "pcod"]
        ]
    if unit == "admin2+mapping":
        out = c.assign(pcod=c.location_id.map(CELL_ADMIN2))
        return out.dropna(subset=["pcod"])[["location_id", "first", "last", "pcod"]]
    if unit == "lon-lat+geom":
        points = c.location_id.map(CELL_POINTS)
    elif unit == "lon-lat+mapping":
        points = c.location_id.map(CELL_TOWER).map(TOWERS)
    else:
        raise ValueError(unit)
    out = c.assign(lon=points.map(lambda p: p[0] if isinstance(p, tuple) else None))
    out = out.assign(lat=points.map(lambda p: p[1] if isinstance(p, tuple) else None))
    return out.dropna(subset=["lon"])[["location_id", "first", "last", "lon", "lat"]]
