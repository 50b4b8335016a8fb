"""The synthetic country and network, and the GeoJSON geography import, checked in the session cluster."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import time
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

from flowdb.errors import FlowDBError
from flowdb.geography_import import add_command, load_geography
from flowdb.synthetic.config import SyntheticConfig
from flowdb.synthetic.geography import build_geography
from flowdb.synthetic.infrastructure import CELL_REGIONS_SQL, build_infrastructure

SMALL = SyntheticConfig(n_admin1=3, n_admin2=8, n_admin3=30, n_sites=100, n_cells=150, n_tacs=50)
LEVELS = range(4)


def build(db: psycopg.Connection, config: SyntheticConfig = SMALL) -> None:
    build_geography(db, config)
    build_infrastructure(db, config)


@pytest.fixture(scope="module", autouse=True)
def restore_world(cluster):
    """Leave a consistent synthetic world behind for whichever tests run next."""
    yield
    with cluster.connect() as conn:
        build(conn)


def snapshot(db: psycopg.Connection) -> dict[str, list[tuple]]:
    """Everything generated, in insertion order, geometries as WKB."""
    out = {}
    for level in LEVELS:
        out[f"admin{level}"] = db.execute(
            f"SELECT admin{level}pcod, admin{level}name, ST_AsBinary(geom) FROM geography.admin{level} "
            "ORDER BY gid"
        ).fetchall()
    out["sites"] = db.execute(
        "SELECT id, name, date_of_first_service, ST_AsBinary(geom_point) FROM infrastructure.sites "
        "ORDER BY site_id"
    ).fetchall()
    out["cells"] = db.execute(
        "SELECT id, site_id, type, azimuth, height FROM infrastructure.cells ORDER BY cell_id"
    ).fetchall()
    out["tacs"] = db.execute("SELECT * FROM infrastructure.tacs ORDER BY id").fetchall()
    return out


def scalar(db: psycopg.Connection, query: str, params=None):
    return db.execute(query, params).fetchone()[0]


# -- synthetic geography ------------------------------------------------------------------------------------
def test_same_seed_same_world_and_other_seed_other_world(db):
    build(db)
    first = snapshot(db)
    build(db)
    assert snapshot(db) == first
    build(db, replace(SMALL, cells_seed=4242))
    other = snapshot(db)
    for key in first:
        assert other[key] != first[key], key
    assert {r[0] for r in other["sites"]} != {r[0] for r in first["sites"]}


def test_counts_pcods_and_names(db):
    build(db)
    counts = [scalar(db, f"SELECT count(*) FROM geography.admin{lvl}") for lvl in LEVELS]
    assert counts == [1, SMALL.n_admin1, SMALL.n_admin2, SMALL.n_admin3]
    assert db.execute("SELECT admin0pcod, admin0name FROM geography.admin0").fetchone() == (
        "SYN",
        "Synthetica",
    )
    patterns = [r"SYN", r"SYN\.\d+_1", r"SYN\.\d+\.\d+_1", r"SYN\.\d+\.\d+\.\d+_1"]
    for level in LEVELS:
        rows = db.execute(
            f"SELECT admin{level}pcod, admin{level}name FROM geography.admin{level}"
        ).fetchall()
        assert all(re.fullmatch(patterns[level], pcod) for pcod, _ in rows)
        names = [name for _, name in rows]
        assert len(set(names)) == len(names) and all(re.fullmatch(r"[A-Z][a-z]+", n) for n in names)
    # Parent pcods: the pcod's prefix, the parent's own parents, and ordinals 1..k within each parent.
    rows = db.execute(
        """SELECT a3.admin3pcod, a3.admin2pcod, a3.admin1pcod, a3.admin0pcod,
                  a2.admin1pcod, a2.admin0pcod, a1.admin0pcod
           FROM geography.admin3 a3
           LEFT JOIN geography.admin2 a2 USING (admin2pcod)
           LEFT JOIN geography.admin1 a1 ON a1.admin1pcod = a2.admin1pcod"""
    ).fetchall()
    for p3, p2, p1, p0, p2_1, p2_0, p1_0 in rows:
        assert p3.startswith(p2[:-2] + ".") and p2.startswith(p1[:-2] + ".")
        assert (p1, p0) == (p2_1, p2_0) and p1_0 == p0 == "SYN"
    ordinals: dict[str, list[int]] = {}
    for p3, p2, *_ in rows:
        ordinals.setdefault(p2, []).append(int(p3[:-2].rsplit(".", 1)[1]))
    assert all(sorted(v) == list(range(1, len(v) + 1)) for v in ordinals.values())
    assert len(ordinals) == SMALL.n_admin2  # no empty admin2


def test_levels_nest_cover_and_do_not_overlap(db):
    build(db)
    country = scalar(db, "SELECT ST_Area(geom) FROM geography.admin0")
    lon, lat = db.execute(
        "SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Centroid(geom) c FROM geography.admin0) x"
    ).fetchone()
    assert 80 < lon < 88 and 25 < lat < 31
    width_km = scalar(db, "SELECT ST_XMax(geom) - ST_XMin(geom) FROM geography.admin0") * 98
    assert 450 < width_km < 950
    for level in LEVELS:
        valid, types, total = db.execute(
            f"""SELECT bool_and(ST_IsValid(geom)), array_agg(DISTINCT GeometryType(geom)),
                       sum(ST_Area(geom)) FROM geography.admin{level}"""
        ).fetchone()
        assert valid and types == ["MULTIPOLYGON"]
        assert abs(total - country) <= 1e-9 * country, level
        overlap = scalar(
            db,
            f"""SELECT coalesce(sum(ST_Area(ST_Intersection(a.geom, b.geom))), 0)
                FROM geography.admin{level} a JOIN geography.admin{level} b
                  ON a.gid < b.gid AND ST_Intersects(a.geom, b.geom)""",
        )
        assert overlap <= 1e-9 * country, level
    for child, parent in ((3, 2), (2, 1), (1, 0)):
        worst = scalar(
            db,
            f"""SELECT max(ST_Area(ST_Difference(c.geom, p.geom)) / ST_Area(c.geom))
                FROM geography.admin{child} c
                JOIN geography.admin{parent} p ON p.admin{parent}pcod = c.admin{parent}pcod""",
        )
        assert worst is not None and worst <= 1e-9, (child, parent)
        missing = scalar(
            db,
            f"""SELECT count(*) FROM geography.admin{child} c WHERE NOT EXISTS
                (SELECT 1 FROM geography.admin{parent} p WHERE p.admin{parent}pcod = c.admin{parent}pcod)""",
        )
        assert missing == 0


def test_degenerate_hierarchies(db):
    for n1, n2, n3 in ((1, 1, 1), (2, 4, 4)):
        config = SyntheticConfig(
            n_admin1=n1, n_admin2=n2, n_admin3=n3, n_sites=20, n_cells=20, n_tacs=5
        )
        build(db, config)
        counts = [scalar(db, f"SELECT count(*) FROM geography.admin{lvl}") for lvl in LEVELS]
        assert counts == [1, n1, n2, n3]
        assert scalar(db, "SELECT bool_and(ST_IsValid(geom)) FROM geography.admin3")
        assert scalar(db, f"SELECT count(*) FROM ({CELL_REGIONS_SQL}) r") == 20


def test_rejects_inconsistent_counts(db):
    with pytest.raises(FlowDBError, match="admin1 <= admin2"):
        build_geography(db, replace(SMALL, n_admin2=40))
    with pytest.raises(FlowDBError, match="N_CELLS"):
        build_infrastructure(db, replace(SMALL, n_cells=50))


def test_build_runs_in_callers_transaction(db):
    build(db)
    before = snapshot(db)
    with pytest.raises(RuntimeError), db.transaction():
        build(db, replace(SMALL, cells_seed=7))
        raise RuntimeError("roll back")
    assert snapshot(db) == before


def test_default_sizes_are_fast(db):
    config = SyntheticConfig()
    started = time.monotonic()
    build_geography(db, config)
    middle = time.monotonic()
    build_infrastructure(db, config)
    assert middle - started < 5 and time.monotonic() - middle < 5
    assert scalar(db, "SELECT count(*) FROM geography.admin3") == 150
    assert scalar(db, f"SELECT count(*) FROM ({CELL_REGIONS_SQL}) r") == config.n_cells


# -- synthetic infrastructure -------------------------------------------------------------------------------
def test_sites_and_cells(db):
    build(db)
    sites = db.execute(
        "SELECT id, version, status, date_of_first_service, date_of_last_service FROM infrastructure.sites"
    ).fetchall()
    assert len(sites) == SMALL.n_sites and len({s[0] for s in sites}) == SMALL.n_sites
    assert all(re.fullmatch(r"[0-9a-f]{6}", s[0]) and s[1:3] == (0, "active") for s in sites)
    start = SMALL.start_date
    assert all(
        start - dt.timedelta(730) <= s[3] <= start - dt.timedelta(30) and s[4] is None
        for s in sites
    )
    assert (
        scalar(
            db,
            """SELECT count(*) FROM infrastructure.sites s
           WHERE NOT EXISTS (SELECT 1 FROM geography.admin0 a WHERE ST_Within(s.geom_point, a.geom))""",
        )
        == 0
    )

    cells = db.execute("SELECT id, version FROM infrastructure.cells").fetchall()
    assert len(cells) == SMALL.n_cells and len({c[0] for c in cells}) == SMALL.n_cells
    assert all(re.fullmatch(r"[0-9a-f]{8}", c[0]) and c[1] == 0 for c in cells)
    assert scalar(db, "SELECT count(DISTINCT site_id) FROM infrastructure.cells") == SMALL.n_sites
    mismatched = scalar(
        db,
        """SELECT count(*) FROM infrastructure.cells c
           LEFT JOIN infrastructure.sites s ON s.id = c.site_id
           WHERE s.id IS NULL OR NOT ST_Equals(s.geom_point, c.geom_point)
              OR s.date_of_first_service IS DISTINCT FROM c.date_of_first_service""",
    )
    assert mismatched == 0
    assert {r[0] for r in db.execute("SELECT DISTINCT type FROM infrastructure.cells")} <= {
        "2G",
        "3G",
        "4G",
    }


def test_every_cell_in_exactly_one_admin3(db):
    build(db)
    per_cell = db.execute(
        """SELECT c.id, count(a.gid) FROM infrastructure.cells c
           LEFT JOIN geography.admin3 a ON ST_Intersects(a.geom, c.geom_point) GROUP BY c.id"""
    ).fetchall()
    assert len(per_cell) == SMALL.n_cells and all(n == 1 for _, n in per_cell)
    regions = db.execute(CELL_REGIONS_SQL).fetchall()
    assert len(regions) == SMALL.n_cells and len({r[0] for r in regions}) == SMALL.n_cells
    for _cell, version, a1, a2, a3 in regions:
        assert version == 0 and a3.startswith(a2[:-2] + ".") and a2.startswith(a1[:-2] + ".")
    # Sites cluster in towns: the busiest admin3 holds far more than an even share.
    busiest = max(sum(1 for r in regions if r[4] == a3) for a3 in {r[4] for r in regions})
    assert busiest >= 3 * SMALL.n_cells / SMALL.n_admin3


def test_tacs(db):
    build(db)
    rows = db.execute(
        """SELECT id, brand, model, hnd_type, hardware_wifi, hardware_gps, hardware_umts, hardware_gprs,
                  software_os_vendor, software_os_name, software_os_version, width, weight
           FROM infrastructure.tacs"""
    ).fetchall()
    assert len(rows) == SMALL.n_tacs and len({r[0] for r in rows}) == SMALL.n_tacs
    assert all(10_000_000 <= r[0] <= 99_999_999 for r in rows)
    types = [r[3] for r in rows]
    assert set(types) <= {"Smart", "Feature", "Basic"}
    assert max(set(types), key=types.count) == "Smart"
    vendors = {"Android": "Google", "iOS": "Apple", "KaiOS": "KaiOS Technologies"}
    for row in rows:
        _id, brand, model, hnd, wifi, gps, umts, gprs, vendor, os_name, version, width, weight = row
        assert brand and model and width > 0 and weight > 0
        assert vendor == vendors.get(os_name, brand)
        if hnd == "Smart":
            assert wifi and gps and umts and os_name in ("Android", "iOS") and version
            assert (brand == "Apple") == (os_name == "iOS")
        elif hnd == "Basic":
            assert not (wifi or gps or umts or gprs) and version is None
        else:
            assert gprs and os_name in ("KaiOS", "Series 30+", "Proprietary")
            assert bool(wifi) == (os_name == "KaiOS")


def test_infrastructure_needs_geography(db):
    db.execute("TRUNCATE geography.admin0, geography.admin1, geography.admin2, geography.admin3")
    try:
        with pytest.raises(FlowDBError, match="geography"):
            build_infrastructure(db, SMALL)
    finally:
        build(db)


# -- GeoJSON import -----------------------------------------------------------------------------------------
def square(x: float, y: float, size: float = 1.0) -> dict:
    ring = [[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]
    return {"type": "Polygon", "coordinates": [ring]}


def feature(geometry: dict | None, **props) -> dict:
    return {"type": "Feature", "properties": props, "geometry": geometry}


def write(tmp_path: Path, doc, name: str = "units.geojson") -> Path:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


def collection(*features: dict, **extra) -> dict:
    return {"type": "FeatureCollection", **extra, "features": list(features)}


def admin3_rows(db: psycopg.Connection) -> list[tuple]:
    return db.execute(
        """SELECT admin3pcod, admin3name, admin2pcod, admin1pcod, admin0pcod, GeometryType(geom),
                  round(ST_Area(geom)::numeric, 6)
           FROM geography.admin3 ORDER BY gid"""
    ).fetchall()


def test_load_geography_round_trip(db, tmp_path):
    build(db)
    parents = db.execute(
        "SELECT admin2pcod, admin1pcod FROM geography.admin2 ORDER BY gid LIMIT 2"
    ).fetchall()
    doc = collection(
        feature(square(80, 20), ADM3_PCODE="XX001", ADM3_EN="Alpha", ADM2_PCODE=parents[0][0]),
        feature(square(81, 20), ADM3_PCODE="XX002", ADM3_EN="Beta", ADM2_PCODE=parents[1][0]),
        feature(
            {"type": "MultiPolygon", "coordinates": [square(82, 20, 0.5)["coordinates"]]},
            ADM3_PCODE="XX003",
            ADM3_EN="Gamma",
            ADM2_PCODE="ZZ",
        ),
        crs={"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}},
    )
    assert load_geography(db, write(tmp_path, doc), 3) == 3
    assert admin3_rows(db) == [
        ("XX001", "Alpha", parents[0][0], parents[0][1], "SYN", "MULTIPOLYGON", 1),
        ("XX002", "Beta", parents[1][0], parents[1][1], "SYN", "MULTIPOLYGON", 1),
        ("XX003", "Gamma", "ZZ", None, None, "MULTIPOLYGON", 0.25),
    ]
    assert scalar(db, "SELECT min(gid) FROM geography.admin3") == 1
    # Explicit property names, a self-intersecting "bow tie" made valid, and a level without parents.
    bowtie = {"type": "Polygon", "coordinates": [[[0, 0], [2, 2], [2, 0], [0, 2], [0, 0]]]}
    doc = collection(
        feature(bowtie, code=7, label="Bow", up="P"), feature(square(5, 5), code=8, up="P")
    )
    n = load_geography(
        db,
        write(tmp_path, doc),
        3,
        pcod_property="code",
        name_property="label",
        parent_property="up",
    )
    assert n == 2
    rows = admin3_rows(db)
    assert [r[:3] for r in rows] == [("7", "Bow", "P"), ("8", "8", "P")]
    assert rows[0][5:] == ("MULTIPOLYGON", 2)
    assert scalar(db, "SELECT bool_and(ST_IsValid(geom)) FROM geography.admin3")
    gadm = collection(feature(square(0, 0), GID_0="SYN", NAME_0="Synthetica"))
    assert load_geography(db, write(tmp_path, gadm), 0) == 1
    assert db.execute("SELECT admin0pcod, admin0name FROM geography.admin0").fetchall() == [
        ("SYN", "Synthetica")
    ]


BAD_INPUTS = {
    "not JSON": ("{ nope", "not JSON"),
    "not a collection": (json.dumps(feature(square(0, 0), pcod="A")), "not a GeoJSON FeatureCollection"),
    "a list": ("[1, 2]", "not a GeoJSON FeatureCollection"),
    "no features": (json.dumps(collection()), "no features"),
    "point": (json.dumps(collection(feature({"type": "Point", "coordinates": [0, 0]}, pcod="A"))), "Point"),
    "no geometry": (json.dumps(collection(feature(None, pcod="A"))), "None"),
    "no pcod": (json.dumps(collection(feature(square(0, 0), colour="red", size=3))), "colour, size"),
    "empty pcod": (json.dumps(collection(feature(square(0, 0), pcod="A"), feature(square(1, 0), pcod=""))), "feature 2"),
    "duplicates": (json.dumps(collection(feature(square(0, 0), pcod="A"), feature(square(1, 0), pcod="A"))), "duplicate pcods.*A"),
    "crs": (json.dumps(collection(feature(square(0, 0), pcod="A"), crs={"type": "name", "properties": {"name": "EPSG:3857"}})), "EPSG:3857"),
    "bad ring": (json.dumps(collection(feature({"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}, pcod="A"))), "invalid geometry|no area"),
    "flat ring": (json.dumps(collection(feature({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [2, 2], [0, 0]]]}, pcod="A"))), "no area|invalid geometry"),
}  # fmt: skip


@pytest.fixture
def loaded(db, tmp_path) -> list[tuple]:
    """admin3 holding two known units; returns its rows."""
    doc = collection(feature(square(0, 0), pcod="KEEP1"), feature(square(1, 0), pcod="KEEP2"))
    load_geography(db, write(tmp_path, doc, "keep.geojson"), 3)
    return admin3_rows(db)


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_load_geography_rejects_bad_input(db, tmp_path, loaded, case):
    text, message = BAD_INPUTS[case]
    with pytest.raises(FlowDBError, match=message) as info:
        load_geography(db, write(tmp_path, text), 3)
    assert "\n" not in str(info.value)
    assert admin3_rows(db) == loaded
    assert not db.info.transaction_status  # idle: the connection is still usable


def test_load_geography_rejects_bad_arguments(db, tmp_path, loaded):
    ok = write(tmp_path, collection(feature(square(0, 0), pcod="A")))
    with pytest.raises(FlowDBError, match="does not exist"):
        load_geography(db, tmp_path / "missing.geojson", 3)
    with pytest.raises(FlowDBError, match="does not exist"):
        load_geography(db, tmp_path, 3)
    for level in (-1, 4):
        with pytest.raises(FlowDBError, match="level"):
            load_geography(db, ok, level)
    with pytest.raises(FlowDBError, match="'nope'.*pcod"):
        load_geography(db, ok, 3, pcod_property="nope")
    with pytest.raises(FlowDBError, match="parent"):
        load_geography(db, ok, 3, parent_property="nope")
    with pytest.raises(FlowDBError, match="no parent"):
        load_geography(db, ok, 0, parent_property="pcod")
    assert admin3_rows(db) == loaded


def test_load_geography_command(cluster, db, tmp_path, capsys):
    parser = argparse.ArgumentParser(prog="flowdb")
    add_command(parser.add_subparsers(dest="command", required=True))
    path = write(tmp_path, collection(feature(square(0, 0), admin2pcod="A", admin2name="Aa")))
    args = parser.parse_args(["load-geography", str(path), "--level", "2"])
    assert args.func(cluster.settings, args) == 0
    assert capsys.readouterr().out.strip() == f"loaded 1 admin2 units from {path}"
    assert db.execute("SELECT admin2pcod, admin2name FROM geography.admin2").fetchall() == [
        ("A", "Aa")
    ]
    with pytest.raises(SystemExit):
        parser.parse_args(["load-geography", str(path), "--level", "5"])
    with pytest.raises(SystemExit):
        parser.parse_args(["load-geography", str(path)])
    capsys.readouterr()
    build(db)
