"""Geography, available dates, QA checks and the published spec."""

from __future__ import annotations

import dataclasses
import json

import pytest
import yaml
from flowapi_test_helpers import AUDIENCE, bearer

from flowapi import create_app

pytestmark = pytest.mark.asyncio


async def test_geography(client, make_token):
    token = make_token({"r": ["get_result", "admin3:geography:geography"]})
    response = await client.get("/api/0/geography/admin3", headers=bearer(token))
    assert response.status_code == 200
    assert response.mimetype == "application/geo+json"
    assert response.headers["Content-Disposition"] == "attachment;filename=admin3.geojson"
    collection = json.loads(await response.get_data())
    assert collection["type"] == "FeatureCollection"
    assert len(collection["features"]) == 16
    for feature in collection["features"]:
        assert feature["type"] == "Feature"
        assert feature["id"] == feature["properties"]["pcod"]
        assert feature["properties"]["centroid"]["type"] == "Point"


async def test_lon_lat_geography_is_read_from_the_cache(client, make_token):
    """The API's role reads only `cache` and `geography`: the cell points come from a cache table."""
    token = make_token({"r": ["get_result", "lon-lat:geography:geography"]})
    response = await client.get("/api/0/geography/lon-lat", headers=bearer(token))
    assert response.status_code == 200, await response.get_data()
    features = json.loads(await response.get_data())["features"]
    assert features and all(f["geometry"]["type"] == "Point" for f in features)
    assert all(
        f["geometry"]["coordinates"] == [f["properties"]["lon"], f["properties"]["lat"]]
        for f in features
    )


async def test_geography_of_an_unknown_unit(client, make_token):
    token = make_token({"r": ["get_result", "admin9:geography:geography"]})
    response = await client.get("/api/0/geography/admin9", headers=bearer(token))
    assert response.status_code == 400
    assert (await response.get_json())["msg"].startswith("Parameter validation failed")


async def test_available_dates(client, make_token):
    token = make_token({"r": ["get_available_dates"]})
    response = await client.get("/api/0/available_dates", headers=bearer(token))
    assert response.status_code == 200
    dates = (await response.get_json())["available_dates"]
    assert {"2016-01-01", "2016-03-05"} <= set(dates["calls"])
    assert dates["calls"] == sorted(dates["calls"])


@pytest.fixture(scope="module")
def qa_rows(flowdb_cluster):
    with flowdb_cluster.connect() as conn:
        conn.execute(
            """INSERT INTO etl.post_etl_queries (cdr_date, cdr_type, type_of_query_or_check, outcome)
               VALUES ('2016-03-02', 'calls', 'count_api', '123'),
                      ('2016-03-03', 'calls', 'count_api', '456')"""
        )


async def test_qa_routes(client, make_token, qa_rows):
    token = make_token({"r": ["get_qa_checks"]})
    listed = await client.get("/api/0/qa/", headers=bearer(token))
    assert listed.status_code == 200
    assert {"cdr_type": "calls", "type_of_query_or_check": "count_api"} in await listed.get_json()

    ranged = await client.get(
        "/api/0/qa/calls/count_api?start_date=2016-03-01&end_date=2016-03-02",
        headers=bearer(token),
    )
    assert ranged.status_code == 200
    assert await ranged.get_json() == [
        {"outcome": "123", "cdr_date": "2016-03-02", "type_of_query_or_check": "count_api"}
    ]
    one = await client.get("/api/0/qa/calls/count_api/2016-03-03", headers=bearer(token))
    assert one.status_code == 200 and (await one.get_data()).decode() == "456"

    none = await client.get("/api/0/qa/calls/count_api/2016-03-09", headers=bearer(token))
    assert none.status_code == 404
    assert (await none.get_json())["status"] == "not found"
    for bad in (
        "/api/0/qa/calls/count_api/soon",
        "/api/0/qa/calls/count_api?start_date=2016-03-01&end_date=later",
        "/api/0/qa/calls/count_api?start_date=2016-03-01",
    ):
        response = await client.get(bad, headers=bearer(token))
        assert response.status_code == 400, bad
        assert (await response.get_json())["status"] == "bad request"
    other = make_token({"r": ["get_result"]})
    assert (await client.get("/api/0/qa/", headers=bearer(other))).status_code == 403


async def test_spec(client):
    response = await client.get("/api/0/spec/openapi.json")  # public
    assert response.status_code == 200
    spec = await response.get_json()
    assert spec["openapi"] == "3.0.1"
    assert spec["info"]["title"] == "FlowAPI"
    token = spec["components"]["securitySchemes"]["token"]
    assert token["type"] == "http" and token["scheme"] == "bearer"
    assert token["x-audience"] == AUDIENCE
    scopes = token["x-security-scopes"]
    assert scopes == sorted(set(scopes))
    assert {
        "run",
        "get_result",
        "get_available_dates",
        "get_qa_checks",
        "admin3:spatial_aggregate:spatial_aggregate",
        "admin3:spatial_aggregate:daily_location",
        "admin2:geography:geography",
        "nonspatial:histogram_aggregate:radius_of_gyration",
        "lon-lat:joined_spatial_aggregate:radius_of_gyration",
    } <= set(scopes)
    schemas = spec["components"]["schemas"]
    root = schemas["FlowmachineQuerySchema"]
    assert root["discriminator"]["propertyName"] == "query_kind"
    assert root["oneOf"] and all("$ref" in r for r in root["oneOf"])
    assert "query_kind" in schemas["SpatialAggregate"]["required"]
    run = spec["paths"]["/api/0/run"]["post"]
    assert run["operationId"] == "query.run_query.post"
    assert run["security"] == [{"token": []}]
    assert "security" not in spec["paths"]["/api/0/spec/openapi.json"]["get"]

    as_yaml = await client.get("/api/0/spec/openapi.yaml")
    assert as_yaml.mimetype == "application/x-yaml"
    assert yaml.safe_load(await as_yaml.get_data()) == spec
    redoc = await client.get("/api/0/spec/redoc")
    page = await redoc.get_data()
    assert redoc.status_code == 200 and b"<redoc" in page
    assert b"https://cdn.redoc.ly/" in page  # no local copy configured: ReDoc from its CDN
    no_copy = await client.get("/api/0/spec/redoc.standalone.js")
    assert no_copy.status_code == 404 and (await no_copy.get_json())["status"] == "error"


async def test_redoc_page_uses_a_local_copy_when_configured(settings, tmp_path):
    bundle = tmp_path / "redoc.standalone.js"
    bundle.write_text("/* ReDoc */ window.Redoc = {};")
    app = create_app(dataclasses.replace(settings, redoc_script=bundle))
    async with app.test_app() as test_app:
        client = test_app.test_client()
        page = await (await client.get("/api/0/spec/redoc")).get_data()
        assert b'<script src="redoc.standalone.js">' in page and b"cdn.redoc.ly" not in page
        script = await client.get(
            "/api/0/spec/redoc.standalone.js"
        )  # what the page's relative URL names
        assert script.status_code == 200 and script.mimetype == "text/javascript"
        assert await script.get_data() == bundle.read_bytes()
        assert "max-age=86400" in script.headers["Cache-Control"]  # not no-store
        policy = (await client.get("/api/0/spec/redoc")).headers["Content-Security-Policy"]
        assert "script-src 'self';" in policy and "cdn.redoc.ly" not in policy
