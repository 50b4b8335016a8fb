"""Attack: difference a subscriber out with two overlapping polygons of one layer (issue 22).

Region A is the whole fixture country, region B the same minus a small square around cell C04. With FlowKit's
point-in-polygon join every cell but C04 is in both regions, so A's count minus B's count is the number of
subscribers seen only at C04 that day: 4, far below the threshold, out of two rows that are each well above
it. `flowdb load-geography` refuses such a layer; this test builds it by hand, as an operator bypassing the
loader could, and checks that FlowMachine still places each cell in one region of a layer only, so the two
published rows never difference to 1-15 subscribers.
"""

from __future__ import annotations

import pytest
import reference as ref
from shapely.geometry import box

from flowmachine.core.spatial_unit import PolygonLayerSpatialUnit

LAYER = "fx_overlap"
A = box(10.0, 10.0, 14.0, 14.0)
B = A.difference(box(12.4, 12.4, 12.6, 12.6))  # C04 is at (12.5, 12.5)
DAY = ("2016-03-01", "2016-03-02")


@pytest.fixture(scope="module")
def overlapping_layer(flowdb_cluster, fixture_db):
    with flowdb_cluster.connect() as conn:
        conn.autocommit = True
        conn.execute(
            """CREATE TABLE custom_geography.fx_overlap (
                   gid SERIAL PRIMARY KEY, pcod TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
                   feature INTEGER NOT NULL, geom geometry(MULTIPOLYGON, 4326) NOT NULL)"""
        )
        for k, (pcod, shape) in enumerate([("A", A), ("B", B)], start=1):
            conn.execute(
                """INSERT INTO custom_geography.fx_overlap (pcod, name, feature, geom)
                   VALUES (%s, %s, %s, ST_Multi(ST_GeomFromText(%s, 4326)))""",
                (pcod, pcod, k, shape.wkt),
            )
        conn.execute(
            "INSERT INTO custom_geography.layers (name, source, features) VALUES (%s, 'by hand', 2)",
            (LAYER,),
        )
        try:
            yield
        finally:
            conn.execute("DROP TABLE custom_geography.fx_overlap")
            conn.execute("DELETE FROM custom_geography.layers WHERE name = %s", (LAYER,))


def test_custom_geography_attack_overlapping_regions_do_not_difference(
    ctx, zmq_client, fixture_db, overlapping_layer
):
    # The attack works with FlowKit's semantics (a cell in every region containing it) ...
    events = ref.events(fixture_db, *DAY)
    located = events[events.location_id.isin(set(fixture_db.cells.id))]
    in_a = located.subscriber.nunique()
    in_b = located[located.location_id != "C04"].subscriber.nunique()
    assert in_a > 15 and in_b > 15 and 1 <= in_a - in_b <= 15

    # ... but here every cell is in one region of the layer only
    mapping = PolygonLayerSpatialUnit(LAYER).get_dataframe(ctx)
    assert not mapping.duplicated(["location_id", "date_of_first_service"]).any()

    reply = zmq_client.request(
        "run_query",
        query_kind="unique_subscriber_counts",
        start_date=DAY[0],
        end_date=DAY[1],
        aggregation_unit=f"polygon-{LAYER}",
    )
    assert reply["status"] == "success", reply
    query_id = reply["payload"]["query_id"]
    assert zmq_client.wait_for(query_id)["payload"]["query_state"] == "completed"
    result_sql = zmq_client.request("get_sql_for_query_result", query_id=query_id)["payload"]["sql"]
    with ctx.pool.connection() as conn:
        published = dict(conn.execute(result_sql).fetchall())
    # every located subscriber is counted once, in A; B keeps no cell of its own, so it has no row
    assert published == {"A": in_a}
