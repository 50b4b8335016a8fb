"""`flowdb load-geography FILE --layer NAME`: named polygon layers in custom_geography (issue 22).

Fixtures are written with geopandas (its own GDAL, through pyogrio) in a projected CRS and the expected
WGS 84 geometry is computed with shapely/pyproj, independently of the loader's ogr2ogr + PostGIS path.
"""

from __future__ import annotations

import argparse
import json

import geopandas as gpd
import psycopg
import pytest
from shapely import wkb
from shapely.geometry import Polygon, box

from flowdb.errors import FlowDBError
from flowdb.geography_import import add_command
from flowdb.layer_import import load_layer

UTM45N = "EPSG:32645"  # Nepal


def utm_squares() -> gpd.GeoDataFrame:
    """Three 10 km squares side by side (touching, not overlapping) near Kathmandu, in UTM 45N."""
    x0, y0 = 330_000, 3_060_000
    squares = [box(x0 + 10_000 * k, y0, x0 + 10_000 * (k + 1), y0 + 10_000) for k in range(3)]
    return gpd.GeoDataFrame(
        {"camp_id": ["C1", "C2", "C3"], "label": ["North", "Centre", "South"]},
        geometry=squares,
        crs=UTM45N,
    )


def layer_rows(db: psycopg.Connection, layer: str) -> list[tuple]:
    return db.execute(
        f"SELECT gid, pcod, name, feature, ST_AsBinary(geom), ST_SRID(geom) FROM custom_geography.{layer} "
        "ORDER BY gid"
    ).fetchall()


@pytest.mark.parametrize(
    ("driver", "suffix"),
    [("GeoJSON", ".geojson"), ("GPKG", ".gpkg"), ("ESRI Shapefile", ".shp")],
)
def test_custom_geography_layer_reprojected_from_each_format(db, tmp_path, driver, suffix):
    frame = utm_squares()
    path = tmp_path / f"camps{suffix}"
    frame.to_file(path, driver=driver)
    layer = f"camps_{suffix[1:]}"
    assert load_layer(db, path, layer, id_property="camp_id", name_property="label") == 3

    expected = frame.to_crs("EPSG:4326")
    rows = layer_rows(db, layer)
    assert [(r[0], r[1], r[2], r[3], r[5]) for r in rows] == [
        (1, "C1", "North", 1, 4326),
        (2, "C2", "Centre", 2, 4326),
        (3, "C3", "South", 3, 4326),
    ]
    for row, want in zip(rows, expected.geometry, strict=True):
        got = wkb.loads(bytes(row[4]))
        assert got.geom_type == "MultiPolygon"
        # same polygon up to a few centimetres (ogr2ogr/PROJ vs pyproj, both PROJ)
        assert got.symmetric_difference(want).area < 1e-12
        assert 85.2 < got.centroid.x < 85.6 and 27.6 < got.centroid.y < 27.8
    registry = db.execute(
        "SELECT source, features FROM custom_geography.layers WHERE name = %s", (layer,)
    ).fetchone()
    assert registry == (path.name, 3)


def test_custom_geography_readers_can_read_and_nobody_else_writes(cluster, db, tmp_path):
    path = tmp_path / "grants.geojson"
    utm_squares().to_file(path, driver="GeoJSON")
    load_layer(db, path, "grants_check", id_property="camp_id")
    settings = cluster.settings
    for role in ("flowmachine", settings.flowapi_user):
        with psycopg.connect(settings.url(role), autocommit=True) as conn:
            assert conn.execute(
                "SELECT count(*) FROM custom_geography.grants_check"
            ).fetchone() == (3,)
            assert conn.execute(
                "SELECT count(*) FROM custom_geography.layers WHERE name = 'grants_check'"
            ).fetchone() == (1,)
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("DELETE FROM custom_geography.grants_check")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("CREATE TABLE custom_geography.mine (x int)")


def write_geojson(tmp_path, name, features) -> object:
    path = tmp_path / name
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def feature(geometry, **props):
    return {"type": "Feature", "properties": props, "geometry": geometry}


def square(x, y, size=1.0):
    return Polygon([(x, y), (x + size, y), (x + size, y + size), (x, y + size)]).__geo_interface__


def test_custom_geography_invalid_geometry_is_repaired(db, tmp_path):
    bowtie = {"type": "Polygon", "coordinates": [[[0, 0], [2, 2], [2, 0], [0, 2], [0, 0]]]}
    path = write_geojson(tmp_path, "bowtie.geojson", [feature(bowtie, id="B")])
    assert load_layer(db, path, "bowtie") == 1
    valid, area, n = db.execute(
        "SELECT ST_IsValid(geom), ST_Area(geom), ST_NumGeometries(geom) FROM custom_geography.bowtie"
    ).fetchone()
    assert valid and n == 2 and area == pytest.approx(2.0)


def test_custom_geography_refusals_name_the_feature(db, tmp_path):
    ok = square(10, 10)
    cases = [
        ([feature(ok, id="A"), feature(square(10.5, 10), id="B")], "features 1 and 2 overlap"),
        (
            [feature(ok, id="A"), feature({"type": "Point", "coordinates": [1, 1]}, id="P")],
            "feature 2",
        ),
        ([feature(ok, id="A"), feature(square(20, 20), id="A")], "duplicate region ids"),
        ([feature(ok, id="A"), feature(square(20, 20))], "feature 2 has no region id"),
        (
            [
                feature(ok, id="A"),
                feature({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [0, 0]]]}, id="Z"),
            ],
            "feature 2",
        ),
    ]
    for k, (features, message) in enumerate(cases):
        path = write_geojson(tmp_path, f"bad{k}.geojson", features)
        with pytest.raises(FlowDBError, match=message):
            load_layer(db, path, f"refused_{k}")
        assert db.execute(
            "SELECT to_regclass(%s)", (f"custom_geography.refused_{k}",)
        ).fetchone() == (None,)
    # edge-sharing squares are not an overlap
    touching = write_geojson(
        tmp_path, "touching.geojson", [feature(ok, id="A"), feature(square(11, 10), id="B")]
    )
    assert load_layer(db, touching, "touching") == 2


@pytest.mark.parametrize(
    "name",
    ["Camps", "1camps", "camps-2026", "camps;drop", "", "a" * 41, "custom_geography.x", "camps\n"],
)
def test_custom_geography_layer_names_are_identifiers(db, tmp_path, name):
    path = write_geojson(tmp_path, "one.geojson", [feature(square(0, 0), id="A")])
    with pytest.raises(FlowDBError, match="layer name"):
        load_layer(db, path, name)


def test_custom_geography_layer_is_never_replaced(db, tmp_path):
    path = write_geojson(tmp_path, "first.geojson", [feature(square(0, 0), id="A")])
    load_layer(db, path, "once")
    second = write_geojson(tmp_path, "second.geojson", [feature(square(5, 5), id="B")])
    with pytest.raises(FlowDBError, match="exists already"):
        load_layer(db, second, "once")
    assert db.execute("SELECT pcod FROM custom_geography.once").fetchall() == [("A",)]


def test_custom_geography_command(cluster, db, tmp_path, capsys):
    parser = argparse.ArgumentParser(prog="flowdb")
    add_command(parser.add_subparsers(dest="command", required=True))
    path = tmp_path / "cli.gpkg"
    utm_squares().to_file(path, driver="GPKG")
    args = parser.parse_args(
        ["load-geography", str(path), "--layer", "cli_camps", "--id-property", "camp_id"]
    )
    assert args.func(cluster.settings, args) == 0
    assert "polygon-cli_camps" in capsys.readouterr().out
    assert db.execute("SELECT count(*) FROM custom_geography.cli_camps").fetchone() == (3,)
    with pytest.raises(SystemExit):  # --level and --layer exclude each other
        parser.parse_args(["load-geography", str(path), "--layer", "x", "--level", "1"])
    args = parser.parse_args(["load-geography", str(path), "--layer", "x", "--pcod-property", "p"])
    with pytest.raises(FlowDBError, match="--pcod-property goes with --level"):
        args.func(cluster.settings, args)


def test_custom_geography_grid_arguments(db):
    from flowdb.grid_layer import grid_layer_name, make_grid

    assert grid_layer_name(5) == "grid_5km" and grid_layer_name(2.5) == "grid_2_5km"
    for size in (0, -1, 0.05, 5000, float("nan"), float("inf")):
        with pytest.raises(FlowDBError, match="grid size"):
            make_grid(db, size)
    parser = argparse.ArgumentParser(prog="flowdb")
    add_command(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["make-grid", "--size-km", "2.5"])
    assert args.size_km == 2.5 and args.layer is None and args.func.__name__ == "cmd_make_grid"


def test_custom_geography_reader_takes_no_options_from_names(db, tmp_path, monkeypatch):
    from flowdb.vector_reader import read_features

    monkeypatch.chdir(tmp_path)
    odd = tmp_path / "-overwrite.geojson"
    utm_squares().to_file(odd, driver="GeoJSON")
    assert len(read_features(odd.relative_to(tmp_path))) == 3
    with pytest.raises(FlowDBError, match="not a layer name"):
        read_features(odd, source_layer="-sql")
