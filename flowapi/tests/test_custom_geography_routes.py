"""A loaded polygon layer (`flowdb load-geography --layer`) through FlowAPI: its unit's scopes are published like
an admin unit's, the geography route serves it, and runs need its scopes (issue 22)."""

from __future__ import annotations

import json

import pytest
from flowapi_test_helpers import bearer
from shapely.geometry import box, mapping, shape

from flowdb.layer_import import load_layer

pytestmark = pytest.mark.asyncio

LAYER = "api_camps"
UNIT = f"polygon-{LAYER}"
CAMPS = {"W": box(10.0, 10.0, 12.0, 14.0), "E": box(12.0, 10.0, 14.0, 14.0)}
SPATIAL = {
    "query_kind": "spatial_aggregate",
    "locations": {
        "query_kind": "daily_location",
        "date": "2016-03-01",
        "aggregation_unit": UNIT,
        "method": "last",
    },
}
SPATIAL_SCOPES = [
    f"{UNIT}:spatial_aggregate:spatial_aggregate",
    f"{UNIT}:spatial_aggregate:daily_location",
]


@pytest.fixture(scope="module")
def camps_layer(flowdb_cluster, tmp_path_factory):
    """The layer, loaded for this module only (other modules see FlowDB without it)."""
    path = tmp_path_factory.mktemp("camps") / "camps.geojson"
    features = [
        {"type": "Feature", "properties": {"id": k, "name": f"Camp {k}"}, "geometry": mapping(g)}
        for k, g in CAMPS.items()
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    with flowdb_cluster.connect() as conn:
        conn.autocommit = True
        load_layer(conn, path, LAYER)
        try:
            yield
        finally:
            conn.execute(f"DROP TABLE custom_geography.{LAYER}")
            conn.execute("DELETE FROM custom_geography.layers WHERE name = %s", (LAYER,))


async def test_custom_geography_layer_scopes_are_published(client, camps_layer):
    spec = await (await client.get("/api/0/spec/openapi.json")).get_json()
    scopes = spec["components"]["securitySchemes"]["token"]["x-security-scopes"]
    assert f"{UNIT}:geography:geography" in scopes
    assert set(SPATIAL_SCOPES) <= set(scopes)
    # named like an admin unit: the same kinds with either unit
    assert {s.split(":", 1)[1] for s in scopes if s.startswith(f"{UNIT}:")} == {
        s.split(":", 1)[1] for s in scopes if s.startswith("admin3:")
    }


async def test_custom_geography_route_serves_the_layer(client, make_token, camps_layer):
    token = make_token({"r": ["get_result", f"{UNIT}:geography:geography"]})
    response = await client.get(f"/api/0/geography/{UNIT}", headers=bearer(token))
    assert response.status_code == 200, await response.get_data()
    assert response.headers["Content-Disposition"] == f"attachment;filename={UNIT}.geojson"
    features = json.loads(await response.get_data())["features"]
    assert {f["id"] for f in features} == set(CAMPS)
    for f in features:
        assert shape(f["geometry"]).equals(CAMPS[f["id"]])
        assert f["properties"]["name"] == f"Camp {f['id']}"

    admin_only = make_token({"r": ["get_result", "admin3:geography:geography"]})
    response = await client.get(f"/api/0/geography/{UNIT}", headers=bearer(admin_only))
    assert response.status_code == 403
    missing = make_token({"r": ["get_result", "polygon-not_loaded:geography:geography"]})
    response = await client.get("/api/0/geography/polygon-not_loaded", headers=bearer(missing))
    assert response.status_code == 400
    assert "no polygon layer" in (await response.get_json())["msg"]


async def test_custom_geography_runs_need_the_layer_scopes(client, make_token, camps_layer):
    admin3 = make_token(
        {
            "r": [
                "run",
                "admin3:spatial_aggregate:spatial_aggregate",
                "admin3:spatial_aggregate:daily_location",
            ]
        }
    )
    response = await client.post("/api/0/run", json=SPATIAL, headers=bearer(admin3))
    assert response.status_code == 403
    token = make_token({"r": ["run", *SPATIAL_SCOPES]})
    response = await client.post("/api/0/run", json=SPATIAL, headers=bearer(token))
    assert response.status_code == 202, await response.get_data()
