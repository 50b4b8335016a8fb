"""`flowdb load-geography FILE --layer NAME`: load a named polygon layer into custom_geography.<NAME>.

The file may be GeoJSON, GeoPackage, a Shapefile or anything else GDAL reads (`vector_reader`); it is
reprojected to WGS 84. Every feature must be a Polygon or MultiPolygon with a distinct, non-empty region id;
an invalid geometry is repaired (ST_MakeValid, keeping its polygonal part) and refused, with the feature's
1-based index in the file, when nothing of it is left. Polygons of one layer must not overlap (touching is
fine): a cell inside two regions would let two region counts be differenced down to the subscribers seen only
there. The layer's table and its row in custom_geography.layers are created in one transaction; a layer is
never replaced (cached results are keyed by its name), so a new version is loaded under a new name.

The table: `gid` (1.., file order), `pcod` (the region id, as admin units call it), `name`, `feature` (the
feature's index in the file), `geom` (MULTIPOLYGON, 4326, GiST-indexed).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from flowdb.custom_geography import LAYER_NAME, REGISTRY, SCHEMA
from flowdb.errors import FlowDBError, first_line
from flowdb.settings import Settings
from flowdb.vector_reader import read_features

POLYGONAL = ("Polygon", "MultiPolygon")
ID_CANDIDATES = ("pcod", "id", "code", "region_id")
NAME_CANDIDATES = ("name",)

# The polygonal part of a valid 2D version of the feature's geometry, as a MULTIPOLYGON (empty if none).
_GEOM_SQL = (
    "ST_Multi(ST_CollectionExtract(ST_MakeValid("
    "ST_Force2D(ST_SetSRID(ST_GeomFromGeoJSON({}), 4326))), 3))"
)


def check_layer_name(name: str) -> str:
    """`name` if it is a valid layer name (lower-case letter, then up to 39 of a-z, 0-9, _)."""
    if not isinstance(name, str) or not LAYER_NAME.match(name):
        raise FlowDBError(
            f"layer name {name!r} is not allowed: use a lower-case letter followed by up to 39 lower-case "
            "letters, digits or underscores (e.g. flood_extent_2026_12)"
        )
    return name


def _property(
    features: list[dict[str, Any]], given: str | None, candidates: tuple[str, ...]
) -> str | None:
    props = features[0].get("properties") or {}
    if given is not None:
        if not any(given in (f.get("properties") or {}) for f in features):
            found = ", ".join(sorted(props)) or "none"
            raise FlowDBError(f"no feature has the property {given!r} (found: {found})")
        return given
    by_lower = {key.lower(): key for key in props}
    return next((by_lower[c] for c in candidates if c in by_lower), None)


def _text(value: Any) -> str | None:
    text = None if value is None else str(value).strip()
    return text or None


def _rows(
    path: Path, features: list[dict[str, Any]], id_prop: str, name_prop: str | None
) -> list[tuple[str, str, int, str]]:
    rows = []
    for k, feature in enumerate(features, start=1):
        geom = feature.get("geometry")
        kind = geom.get("type") if isinstance(geom, dict) else None
        if kind not in POLYGONAL:
            raise FlowDBError(
                f"{path.name}: feature {k} has geometry {kind!r}; only Polygon and MultiPolygon are allowed"
            )
        props = feature.get("properties") or {}
        region = _text(props.get(id_prop))
        if region is None:
            raise FlowDBError(f"{path.name}: feature {k} has no region id (property {id_prop!r})")
        name = (_text(props.get(name_prop)) if name_prop else None) or region
        rows.append((region, name, k, json.dumps(geom)))
    duplicates = sorted(r for r, n in Counter(row[0] for row in rows).items() if n > 1)
    if duplicates:
        raise FlowDBError(
            f"{path.name}: duplicate region ids in {id_prop!r}: {', '.join(duplicates[:5])}"
        )
    return rows


def load_layer(
    conn: psycopg.Connection,
    path: Path,
    layer: str,
    *,
    id_property: str | None = None,
    name_property: str | None = None,
    source_layer: str | None = None,
) -> int:
    """Create custom_geography.<layer> from the polygons of `path`; return how many were loaded."""
    check_layer_name(layer)
    path = Path(path)
    features = read_features(path, source_layer)
    id_prop = _property(features, id_property, ID_CANDIDATES)
    if id_prop is None:
        found = ", ".join(sorted(features[0].get("properties") or {})) or "none"
        raise FlowDBError(
            f"{path.name}: no region id property found (tried {', '.join(ID_CANDIDATES)}; the features "
            f"have: {found}); name it with --id-property"
        )
    name_prop = _property(features, name_property, NAME_CANDIDATES)
    rows = _rows(path, features, id_prop, name_prop)
    return write_layer(conn, layer, rows, path.name)


def write_layer(
    conn: psycopg.Connection, layer: str, rows: list[tuple[str, str, int, str]], source: str
) -> int:
    """Create custom_geography.<layer> from `rows` (region id, name, feature index, GeoJSON geometry in
    EPSG:4326), repairing invalid geometries and refusing empty or overlapping ones; return how many."""
    check_layer_name(layer)
    table = sql.Identifier(SCHEMA, layer)
    registry = sql.Identifier(SCHEMA, REGISTRY)
    insert = sql.SQL("INSERT INTO {} (pcod, name, feature, geom) VALUES (%s, %s, %s, {})").format(
        table, sql.SQL(_GEOM_SQL).format(sql.Placeholder())
    )
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SET LOCAL jit = off")
        taken = cur.execute(
            sql.SQL("SELECT 1 FROM {} WHERE name = %s").format(registry), (layer,)
        ).fetchone()
        if taken or cur.execute("SELECT to_regclass(%s)", (f"{SCHEMA}.{layer}",)).fetchone() != (
            None,
        ):
            raise FlowDBError(
                f"layer {layer!r} exists already: load the new version under a new name "
                "(cached results of a layer are kept under its name)"
            )
        cur.execute(
            sql.SQL(
                """CREATE TABLE {} (
                       gid     SERIAL PRIMARY KEY,
                       pcod    TEXT NOT NULL UNIQUE,
                       name    TEXT NOT NULL,
                       feature INTEGER NOT NULL,
                       geom    geometry(MULTIPOLYGON, 4326) NOT NULL)"""
            ).format(table)
        )
        for row in rows:
            try:
                with conn.transaction():
                    cur.execute(insert, row)
            except (psycopg.errors.DataError, psycopg.InternalError) as exc:
                raise FlowDBError(
                    f"{source}: feature {row[2]} has an invalid geometry: {first_line(exc)}"
                ) from None
        empty = cur.execute(
            sql.SQL("SELECT feature FROM {} WHERE ST_IsEmpty(geom) ORDER BY gid LIMIT 1").format(
                table
            )
        ).fetchone()
        if empty:
            raise FlowDBError(
                f"{source}: feature {empty[0]} has an invalid geometry that has no area once repaired"
            )
        cur.execute(sql.SQL("CREATE INDEX ON {} USING gist (geom)").format(table))
        overlap = cur.execute(
            sql.SQL(
                """SELECT a.feature, b.feature FROM {t} a JOIN {t} b
                   ON a.gid < b.gid AND ST_Intersects(a.geom, b.geom)
                  AND ST_Relate(a.geom, b.geom, '2********')
                   ORDER BY a.gid, b.gid LIMIT 1"""
            ).format(t=table)
        ).fetchone()
        if overlap:
            raise FlowDBError(
                f"{source}: features {overlap[0]} and {overlap[1]} overlap; the polygons of a layer must "
                "not overlap (a subscriber seen only where they overlap could be differenced out)"
            )
        cur.execute(
            sql.SQL("INSERT INTO {} (name, source, features) VALUES (%s, %s, %s)").format(registry),
            (layer, source, len(rows)),
        )
        cur.execute(sql.SQL("ANALYZE {}").format(table))
    return len(rows)


def cmd_load_layer(settings: Settings, args: argparse.Namespace) -> int:
    """Handler of `flowdb load-geography FILE --layer NAME`."""
    with psycopg.connect(settings.url(), autocommit=True) as conn:
        n = load_layer(
            conn,
            Path(args.file),
            args.layer,
            id_property=args.id_property,
            name_property=args.name_property,
            source_layer=args.source_layer,
        )
    print(
        f"loaded {n} polygons from {args.file} into {SCHEMA}.{args.layer} "
        f"(aggregation unit polygon-{args.layer})",
        flush=True,
    )
    return 0
