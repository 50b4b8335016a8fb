"""A custom polygon layer end to end: loaded from a GeoPackage in UTM by `flowdb load-geography --layer`, then
unique subscriber counts and the layer's geography through flowclient, FlowAPI and FlowMachine, against plain
PostGIS SQL over FlowDB's events (issue 22)."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import box, shape

import flowclient as fc
from flowdb.cluster import Cluster
from flowdb.geography_import import add_command

LAYER = "e2e_halves"
UNIT = f"polygon-{LAYER}"
HALVES = {"WEST": box(10.0, 10.0, 12.0, 14.0), "EAST": box(12.0, 10.0, 14.0, 14.0)}

PER_REGION_SQL = """
SELECT p.pcod, count(DISTINCT e.msisdn) AS value
FROM (SELECT msisdn, datetime, location_id FROM events.calls
      UNION ALL SELECT msisdn, datetime, location_id FROM events.sms) e
JOIN infrastructure.cells c
  ON c.id = e.location_id
 AND e.datetime::date BETWEEN coalesce(c.date_of_first_service, '-infinity'::date)
                          AND coalesce(c.date_of_last_service, 'infinity'::date)
JOIN custom_geography.e2e_halves p ON ST_Within(c.geom_point, p.geom)
WHERE e.datetime >= '2016-03-01' AND e.datetime < '2016-03-03'
GROUP BY 1
HAVING count(DISTINCT e.msisdn) > 15
"""


@pytest.fixture(scope="module")
def halves_layer(stack, tmp_path_factory):
    """The layer, loaded with the `flowdb load-geography` command from a GeoPackage in UTM 33N; dropped after
    the module."""
    import argparse

    path = tmp_path_factory.mktemp("e2e-layer") / "halves.gpkg"
    frame = gpd.GeoDataFrame(
        {"region": list(HALVES), "title": ["West half", "East half"]},
        geometry=list(HALVES.values()),
        crs="EPSG:4326",
    ).to_crs("EPSG:32633")
    frame.to_file(path, driver="GPKG")
    parser = argparse.ArgumentParser(prog="flowdb")
    add_command(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(
        [
            "load-geography",
            str(path),
            "--layer",
            LAYER,
            "--id-property",
            "region",
            "--name-property",
            "title",
        ]
    )
    cluster: Cluster = stack.cluster
    assert args.func(cluster.settings, args) == 0
    try:
        yield
    finally:
        with cluster.connect() as db:
            db.execute(f"DROP TABLE custom_geography.{LAYER}")
            db.execute("DELETE FROM custom_geography.layers WHERE name = %s", (LAYER,))


def test_custom_geography_layer_through_flowclient(stack, halves_layer) -> None:
    token = stack.token(
        [
            "run",
            "get_result",
            f"{UNIT}:unique_subscriber_counts:unique_subscriber_counts",
            f"{UNIT}:geography:geography",
        ]
    )
    conn = stack.connect(token)
    try:
        got = fc.unique_subscriber_counts(
            connection=conn,
            start_date="2016-03-01",
            end_date="2016-03-03",
            aggregation_unit=UNIT,
            event_types=["calls", "sms"],
        ).get_result()
        geography = fc.get_geography(connection=conn, aggregation_unit=UNIT)
    finally:
        conn.close()
    with stack.cluster.connect() as db:
        rows = db.execute(PER_REGION_SQL).fetchall()
    expected = pd.DataFrame(rows, columns=["pcod", "value"]).sort_values("pcod")
    assert len(expected) == 2
    assert list(got.columns) == ["pcod", "value"]
    got = got.sort_values("pcod").reset_index(drop=True)
    assert got.pcod.tolist() == expected.pcod.tolist()
    assert got.value.astype(int).tolist() == expected.value.astype(int).tolist()

    features = {f["id"]: f for f in geography["features"]}
    assert set(features) == set(HALVES)
    for pcod, feature in features.items():
        # reprojected back from UTM: the same square within a few centimetres
        assert shape(feature["geometry"]).symmetric_difference(HALVES[pcod]).area < 1e-9
        assert feature["properties"]["name"] in ("West half", "East half")
