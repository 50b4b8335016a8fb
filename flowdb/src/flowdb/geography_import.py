"""`flowdb load-geography FILE --level N`: replace geography.admin<N> with the polygons of a GeoJSON file.

The file is a FeatureCollection of Polygon/MultiPolygon features in EPSG:4326 (GADM, HDX/OCHA COD and
geoBoundaries exports all work). The pcod, name and parent-pcod properties are detected unless given.
Everything is checked before the table is touched, and the table is replaced in one transaction.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from flowdb.errors import FlowDBError, first_line
from flowdb.settings import Settings
from flowdb.vector_reader import features_of, read_json

LEVELS = (0, 1, 2, 3)
POLYGONAL = ("Polygon", "MultiPolygon")

# The polygonal part of a valid 2D version of the feature's geometry, as a MULTIPOLYGON.
_GEOM_SQL = (
    "ST_Multi(ST_CollectionExtract(ST_MakeValid("
    "ST_Force2D(ST_SetSRID(ST_GeomFromGeoJSON({}), 4326))), 3))"
)


def pcod_candidates(level: int) -> list[str]:
    """Property names tried, in order, for the pcod of an admin<level> unit."""
    return [f"admin{level}pcod", f"ADM{level}_PCODE", f"GID_{level}", "pcod", "code", "id"]


def name_candidates(level: int) -> list[str]:
    """Property names tried, in order, for the name of an admin<level> unit."""
    return [f"admin{level}name", f"ADM{level}_EN", f"NAME_{level}", "name"]


def _ancestor_candidates(level: int) -> list[str]:
    return [f"admin{level}pcod", f"ADM{level}_PCODE", f"GID_{level}"]


def _read_features(path: Path) -> list[dict[str, Any]]:
    """The features of a GeoJSON FeatureCollection in EPSG:4326, checked to be polygons."""
    if not path.is_file():
        raise FlowDBError(f"geography file {path} does not exist or is not a file")
    doc = read_json(path, str(path))
    return features_of(
        doc,
        str(path),
        crs_hint="reproject it to EPSG:4326 (WGS 84 lon/lat) first",
        geometry_types=POLYGONAL,
    )


def _find_property(props: dict[str, Any], candidates: list[str]) -> str | None:
    """The first candidate present in `props`, compared case-insensitively; its spelling in `props`."""
    by_lower = {key.lower(): key for key in props}
    for name in candidates:
        if name.lower() in by_lower:
            return by_lower[name.lower()]
    return None


def _optional_values(features: list[dict[str, Any]], prop: str) -> list[str | None]:
    """`prop` of every feature as text, None where it is missing or empty."""
    out: list[str | None] = []
    for feature in features:
        value = (feature.get("properties") or {}).get(prop)
        text = None if value is None else str(value).strip()
        out.append(text or None)
    return out


def _values(path: Path, features: list[dict[str, Any]], prop: str, what: str) -> list[str]:
    """`prop` of every feature as text; a missing or empty value is an error."""
    out: list[str] = []
    for k, text in enumerate(_optional_values(features, prop), start=1):
        if text is None:
            raise FlowDBError(f"{path}: feature {k} has no {what} (property {prop!r})")
        out.append(text)
    return out


def _choose(
    path: Path,
    features: list[dict[str, Any]],
    given: str | None,
    candidates: list[str],
    what: str,
) -> str | None:
    """The property to use for `what`: `given` (which must exist) or the first candidate found."""
    props = features[0].get("properties") or {}
    available = ", ".join(sorted(props)) or "none"
    if given is not None:
        if not any(given in (f.get("properties") or {}) for f in features):
            raise FlowDBError(
                f"{path}: no feature has the {what} property {given!r} (found: {available})"
            )
        return given
    return _find_property(props, candidates)


def load_geography(
    conn: psycopg.Connection,
    path: Path,
    level: int,
    *,
    pcod_property: str | None = None,
    name_property: str | None = None,
    parent_property: str | None = None,
) -> int:
    """Replace all rows of geography.admin<level> with the units in the GeoJSON file; return how many."""
    if level not in LEVELS:
        raise FlowDBError(f"geography level must be 0, 1, 2 or 3, got {level}")
    if level == 0 and parent_property is not None:
        raise FlowDBError("admin0 units have no parent: drop --parent-property")
    path = Path(path)
    features = _read_features(path)

    pcod_prop = _choose(path, features, pcod_property, pcod_candidates(level), "pcod")
    if pcod_prop is None:
        found = ", ".join(sorted(features[0].get("properties") or {})) or "none"
        raise FlowDBError(
            f"{path}: no pcod property found (tried {', '.join(pcod_candidates(level))}; the features "
            f"have: {found}); name it with --pcod-property"
        )
    pcods = _values(path, features, pcod_prop, "pcod")
    duplicates = sorted(p for p, n in Counter(pcods).items() if n > 1)
    if duplicates:
        raise FlowDBError(f"{path}: duplicate pcods in {pcod_prop!r}: {', '.join(duplicates[:5])}")
    name_prop = _choose(path, features, name_property, name_candidates(level), "name")
    if name_prop:
        given_names = _optional_values(features, name_prop)
        names = [n or p for n, p in zip(given_names, pcods, strict=True)]
    else:
        names = list(pcods)

    # Ancestor pcod columns: admin<level-1>pcod from parent_property, higher ones detected.
    ancestors: dict[int, list[str | None]] = {}
    for up in range(level - 1, -1, -1):
        given = parent_property if up == level - 1 else None
        prop = _choose(path, features, given, _ancestor_candidates(up), "parent pcod")
        if prop is not None and prop != pcod_prop:
            ancestors[up] = _optional_values(features, prop)

    table = sql.Identifier("geography", f"admin{level}")
    columns = [f"admin{level}pcod", f"admin{level}name", *(f"admin{up}pcod" for up in ancestors)]
    insert = sql.SQL("INSERT INTO {} ({}, geom) VALUES ({}, {})").format(
        table,
        sql.SQL(", ").join(map(sql.Identifier, columns)),
        sql.SQL(", ").join(sql.Placeholder() * len(columns)),
        sql.SQL(_GEOM_SQL).format(sql.Placeholder()),
    )
    rows = [
        (pcods[k], names[k], *(ancestors[up][k] for up in ancestors), json.dumps(f["geometry"]))
        for k, f in enumerate(features)
    ]
    try:
        with conn.transaction(), conn.cursor() as cur:
            cur.execute("SET LOCAL jit = off")
            cur.execute(sql.SQL("TRUNCATE {} RESTART IDENTITY").format(table))
            cur.executemany(insert, rows)
            empty = cur.execute(
                sql.SQL("SELECT {} FROM {} WHERE ST_IsEmpty(geom) ORDER BY gid LIMIT 1").format(
                    sql.Identifier(f"admin{level}pcod"), table
                )
            ).fetchone()
            if empty:
                raise FlowDBError(f"{path}: the geometry of {empty[0]!r} has no area")
            if level > 0:
                _fill_ancestors_from_parent(cur, level)
            cur.execute(sql.SQL("ANALYZE {}").format(table))
    except (psycopg.errors.DataError, psycopg.InternalError) as exc:
        raise FlowDBError(f"{path}: invalid geometry: {first_line(exc)}") from None
    return len(rows)


def _fill_ancestors_from_parent(cur: psycopg.Cursor, level: int) -> None:
    """Ancestor pcods the file did not give, copied from the parent level's row where it is known."""
    parent = level - 1
    sets = [
        sql.SQL("{col} = coalesce(t.{col}, p.{col})").format(col=sql.Identifier(f"admin{up}pcod"))
        for up in range(parent - 1, -1, -1)
    ]
    if not sets:
        return
    cur.execute(
        sql.SQL("UPDATE {t} AS t SET {sets} FROM {p} AS p WHERE p.{pk} = t.{pk}").format(
            t=sql.Identifier("geography", f"admin{level}"),
            p=sql.Identifier("geography", f"admin{parent}"),
            sets=sql.SQL(", ").join(sets),
            pk=sql.Identifier(f"admin{parent}pcod"),
        )
    )


def cmd_load_geography(settings: Settings, args: argparse.Namespace) -> int:
    """Handler of `flowdb load-geography`."""
    with psycopg.connect(settings.url(), autocommit=True) as conn:
        n = load_geography(
            conn,
            Path(args.file),
            args.level,
            pcod_property=args.pcod_property,
            name_property=args.name_property,
            parent_property=args.parent_property,
        )
    print(f"loaded {n} admin{args.level} units from {args.file}", flush=True)
    return 0


def add_command(sub: argparse._SubParsersAction) -> None:
    """Register `load-geography` on the CLI's subparsers (admin levels here, named layers in layer_import)."""
    p = sub.add_parser(
        "load-geography",
        help="replace geography.admin<N> with the polygons of a GeoJSON file (EPSG:4326), or load a named "
        "polygon layer into custom_geography (--layer)",
        description="With --level N: replace geography.admin<N> with the Polygon/MultiPolygon features of a "
        "GeoJSON FeatureCollection in EPSG:4326. Pcod, name and parent-pcod properties are detected "
        "(admin<N>pcod, ADM<N>_PCODE, GID_<N>, ...) unless given. With --layer NAME: load the polygons of a "
        "GeoJSON, GeoPackage or Shapefile (read and reprojected to WGS 84 by GDAL's ogr2ogr) into "
        "custom_geography.NAME, the aggregation unit polygon-NAME; overlapping polygons are refused.",
    )
    p.add_argument(
        "file", help="GeoJSON FeatureCollection (--level); any file GDAL reads (--layer)"
    )
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--level", type=int, choices=LEVELS, help="admin level 0-3")
    which.add_argument(
        "--layer", help="name of a new custom layer (a-z, 0-9, _; starts with a letter)"
    )
    p.add_argument("--pcod-property", help="feature property holding the unit's pcod (--level)")
    p.add_argument("--name-property", help="feature property holding the unit's name")
    p.add_argument(
        "--parent-property", help="feature property holding the parent unit's pcod (--level)"
    )
    p.add_argument("--id-property", help="feature property holding the region id (--layer)")
    p.add_argument("--source-layer", help="layer of the file to read, if it has several (--layer)")
    p.set_defaults(func=_dispatch)

    from flowdb.grid_layer import add_command as add_make_grid

    add_make_grid(sub)


def _dispatch(settings: Settings, args: argparse.Namespace) -> int:
    if args.layer is None:
        for option in ("id_property", "source_layer"):
            if getattr(args, option) is not None:
                raise FlowDBError(f"--{option.replace('_', '-')} goes with --layer, not --level")
        return cmd_load_geography(settings, args)
    for option in ("pcod_property", "parent_property"):
        if getattr(args, option) is not None:
            raise FlowDBError(f"--{option.replace('_', '-')} goes with --level, not --layer")
    from flowdb.layer_import import cmd_load_layer

    return cmd_load_layer(settings, args)
