"""run → poll → get against the real stack; CSV and GeoJSON; cancelling; bad input never gives a 5xx."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
import time
import uuid

import psycopg
import pytest
from flowapi_test_helpers import SPATIAL, SPATIAL_SCOPES, bearer

pytestmark = pytest.mark.asyncio

RESULT_ROLE = {"analyst": ["run", "get_result", *SPATIAL_SCOPES, "admin3:geography:geography"]}


async def run_and_wait(client, token, spec, timeout=60):
    response = await client.post("/api/0/run", json=spec, headers=bearer(token))
    assert response.status_code == 202, await response.get_data()
    query_id = response.headers["Location"].split("/")[-1]
    assert response.headers["Location"] == f"/api/0/poll/{query_id}"
    deadline = time.monotonic() + timeout
    while True:
        polled = await client.get(f"/api/0/poll/{query_id}", headers=bearer(token))
        if polled.status_code != 202:
            return query_id, polled
        body = await polled.get_json()
        assert set(body["progress"]) == {"eligible", "queued", "running"}
        assert body["status"] in ("queued", "executing")
        assert time.monotonic() < deadline, "query never finished"
        await asyncio.sleep(0.1)


def cache_rows(flowdb_cluster, query_id):
    with flowdb_cluster.connect() as conn:
        cur = conn.execute(
            psycopg.sql.SQL("SELECT * FROM cache.{}").format(psycopg.sql.Identifier(f"x{query_id}"))
        )
        names = [c.name for c in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


async def test_run_poll_get_round_trip(client, make_token, flowdb_cluster, caplog):
    caplog.set_level(logging.INFO, logger="flowapi.access")
    token = make_token(RESULT_ROLE)
    run = await client.post("/api/0/run", json=SPATIAL, headers=bearer(token))
    assert run.status_code == 202
    body = await run.get_json()
    assert set(body) == {"query_id", "progress"} and len(body["query_id"]) == 32

    query_id, polled = await run_and_wait(client, token, SPATIAL)
    assert query_id == body["query_id"]  # the same spec is the same query
    assert polled.status_code == 303
    assert polled.headers["Location"] == f"/api/0/get/{query_id}"
    assert await polled.get_json() == {"status": "completed"}

    got = await client.get(f"/api/0/get/{query_id}", headers=bearer(token))
    assert got.status_code == 200
    assert got.mimetype == "application/json"
    assert got.headers["Content-Disposition"] == f"attachment;filename={query_id}.json"
    result = json.loads(await got.get_data())
    assert result["query_id"] == query_id
    expected = cache_rows(flowdb_cluster, query_id)
    assert len(expected) > 3  # more than one chunk of the test settings
    assert sorted(result["query_result"], key=lambda r: r["pcod"]) == sorted(
        ({"pcod": r["pcod"], "value": float(r["value"])} for r in expected),
        key=lambda r: r["pcod"],
    )
    assert all(row["value"] > 15 for row in result["query_result"])  # redacted

    same = await client.get(f"/api/0/get/{query_id}.json", headers=bearer(token))
    assert json.loads(await same.get_data()) == result

    records = [r for r in caplog.records if r.name == "flowapi.access"]
    accepted = [r for r in records if getattr(r, "outcome", None) == "accepted"]
    assert accepted and accepted[0].user == "test" and accepted[0].query_id == query_id
    assert any(getattr(r, "outcome", None) == "streamed" for r in records)


async def test_csv_and_geojson(client, make_token):
    token = make_token(RESULT_ROLE)
    query_id, polled = await run_and_wait(client, token, SPATIAL)
    assert polled.status_code == 303
    as_json = json.loads(
        await (await client.get(f"/api/0/get/{query_id}", headers=bearer(token))).get_data()
    )["query_result"]

    as_csv = await client.get(f"/api/0/get/{query_id}.csv", headers=bearer(token))
    assert as_csv.status_code == 200 and as_csv.mimetype == "text/csv"
    assert as_csv.headers["Content-Disposition"] == f"attachment;filename={query_id}.csv"
    rows = list(csv.DictReader(io.StringIO((await as_csv.get_data()).decode())))
    assert [(r["pcod"], float(r["value"])) for r in rows] == [
        (r["pcod"], r["value"]) for r in as_json
    ]

    geo = await client.get(f"/api/0/get/{query_id}.geojson", headers=bearer(token))
    assert geo.status_code == 200 and geo.mimetype == "application/geo+json"
    collection = json.loads(await geo.get_data())
    assert collection["type"] == "FeatureCollection"
    assert len(collection["features"]) == len(as_json)
    feature = collection["features"][0]
    assert feature["type"] == "Feature"
    assert feature["geometry"]["type"] == "MultiPolygon"
    assert {"pcod", "value", "centroid"} <= set(feature["properties"])


async def test_lon_lat_geojson(client, make_token):
    """GeoJSON of a lon-lat result joins the cell points FlowMachine keeps in the cache (the API's role
    cannot read `infrastructure`)."""
    locations = {**SPATIAL["locations"], "aggregation_unit": "lon-lat"}
    spec = {**SPATIAL, "locations": locations}
    token = make_token(
        {
            "r": [
                "run",
                "get_result",
                "lon-lat:spatial_aggregate:spatial_aggregate",
                "lon-lat:spatial_aggregate:daily_location",
                "lon-lat:geography:geography",
            ]
        }
    )
    query_id, polled = await run_and_wait(client, token, spec)
    assert polled.status_code == 303
    geo = await client.get(f"/api/0/get/{query_id}.geojson", headers=bearer(token))
    assert geo.status_code == 200, await geo.get_data()
    features = json.loads(await geo.get_data())["features"]
    assert features and {"lon", "lat", "value"} <= set(features[0]["properties"])
    assert features[0]["geometry"]["type"] == "Point"


async def test_geojson_needs_the_geography_scope(client, make_token):
    token = make_token({"r": ["run", "get_result", *SPATIAL_SCOPES]})
    query_id, _ = await run_and_wait(client, token, SPATIAL)
    assert (await client.get(f"/api/0/get/{query_id}", headers=bearer(token))).status_code == 200
    geo = await client.get(f"/api/0/get/{query_id}.geojson", headers=bearer(token))
    assert geo.status_code == 403


async def test_unknown_ids_are_404(client, universal_token):
    unknown = uuid.uuid4().hex
    for path in (f"/api/0/poll/{unknown}", f"/api/0/get/{unknown}", f"/api/0/get/{unknown}.csv"):
        response = await client.get(path, headers=bearer(universal_token))
        assert response.status_code == 404, path
        assert "msg" in await response.get_json()
    response = await client.delete(f"/api/0/query/{unknown}", headers=bearer(universal_token))
    assert response.status_code == 404


@pytest.mark.parametrize(
    "body,msg",
    [
        (b"{not json", "Could not parse query spec."),
        (b"\xff\xfe", "Could not parse query spec."),
        (b"[1, 2]", "Could not parse query spec."),
        (b'"spatial_aggregate"', "Could not parse query spec."),
        (b"", "Could not parse query spec."),
        (b'{"locations": {}}', "Query kind must be specified when running a query."),
        (b'{"query_kind": 7}', "Query kind must be a string."),
    ],
)
async def test_unparseable_specs(client, universal_token, body, msg):
    response = await client.post(
        "/api/0/run",
        data=body,
        headers={**bearer(universal_token), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert await response.get_json() == {"status": "error", "msg": msg}


@pytest.mark.parametrize(
    "spec",
    [
        {"query_kind": "nonsense"},
        {**SPATIAL, "extra": 1},
        {"query_kind": "spatial_aggregate", "locations": {**SPATIAL["locations"], "date": 5}},
        {"query_kind": "spatial_aggregate", "locations": "not a query"},
        {"query_kind": "geography", "aggregation_unit": ["admin3"]},
    ],
)
async def test_invalid_specs_are_400(client, universal_token, spec):
    response = await client.post("/api/0/run", json=spec, headers=bearer(universal_token))
    assert response.status_code == 400
    body = await response.get_json()
    assert body["msg"].startswith("Parameter validation failed.")
    assert "validation_error_messages" in body["payload"]


async def test_oversize_body_is_413(client, universal_token):
    spec = {**SPATIAL, "padding": "x" * (128 * 1024)}
    response = await client.post("/api/0/run", json=spec, headers=bearer(universal_token))
    assert response.status_code == 413
    assert (await response.get_json())["status"] == "error"


async def test_bad_file_type_route_and_method(client, universal_token):
    response = await client.get(
        f"/api/0/get/{uuid.uuid4().hex}.xlsx", headers=bearer(universal_token)
    )
    assert response.status_code == 400
    assert await response.get_json() == {"status": "error", "msg": "Invalid file format"}
    missing = await client.get("/api/0/nothing-here", headers=bearer(universal_token))
    assert missing.status_code == 404 and "msg" in await missing.get_json()
    wrong = await client.get("/api/0/run", headers=bearer(universal_token))
    assert wrong.status_code == 405 and "msg" in await wrong.get_json()
    assert (await client.get("/")).status_code == 200


async def test_cancel_of_a_completed_query(client, make_token):
    token = make_token(RESULT_ROLE)
    query_id, _ = await run_and_wait(client, token, SPATIAL)
    response = await client.delete(f"/api/0/query/{query_id}", headers=bearer(token))
    assert response.status_code == 200
    assert await response.get_json() == {
        "query_id": query_id,
        "query_state": "completed",
        "cancelled": False,
    }
    # DELETE needs `run` on the query's kind, in the same role as its scopes
    reader = make_token({"r": ["get_result", *SPATIAL_SCOPES], "s": ["run"]})
    assert (
        await client.delete(f"/api/0/query/{query_id}", headers=bearer(reader))
    ).status_code == 403


async def test_flowmachine_timeout_is_a_clear_503(settings, make_token):
    from dataclasses import replace

    from flowapi import create_app
    from flowdb.testing import free_port

    app = create_app(replace(settings, flowmachine_port=free_port(), zmq_timeout_seconds=0.3))
    async with app.test_app() as test_app:
        client = test_app.test_client()
        spec = await client.get("/api/0/spec/openapi.json")  # none ever fetched: nothing to serve
        assert spec.status_code == 503 and spec.headers["Retry-After"] == "5"
        assert "did not answer" in (await spec.get_json())["msg"]
        token = make_token({"r": ["get_available_dates"]})
        dates = await client.get("/api/0/available_dates", headers=bearer(token))
        assert dates.status_code == 503 and dates.headers["Retry-After"] == "5"
        assert (await dates.get_json())["payload"] == {
            "unavailable": "flowmachine",
            "retry_after": 5,
        }
        # a socket that timed out is in an unknown REQ state: closed, never given back for reuse
        assert app.extensions["flowapi"].flowmachine._idle == []


async def test_a_cached_result_costs_one_flowmachine_call_per_step(client, make_token, monkeypatch):
    """The spec behind a query id and the aggregation unit of a spec never change: FlowAPI asks once, and
    then run, poll and get each make only their own call, on a reused socket."""
    from quart import current_app

    token = make_token(RESULT_ROLE)
    spec = {**SPATIAL, "locations": {**SPATIAL["locations"], "date": "2016-01-03"}}
    query_id, polled = await run_and_wait(client, token, spec)
    assert polled.status_code == 303
    async with client.app.app_context():
        fm = current_app.extensions["flowapi"].flowmachine
    calls: list[str] = []
    original = fm.request

    async def counted(action, params=None, *, request_id):
        calls.append(str(action))
        return await original(action, params, request_id=request_id)

    monkeypatch.setattr(fm, "request", counted)
    steps = {}
    for step, send in (
        ("run", lambda: client.post("/api/0/run", json=spec, headers=bearer(token))),
        ("poll", lambda: client.get(f"/api/0/poll/{query_id}", headers=bearer(token))),
        ("get", lambda: client.get(f"/api/0/get/{query_id}", headers=bearer(token))),
    ):
        calls.clear()
        response = await send()
        assert response.status_code in (202, 303, 200)
        steps[step] = list(calls)
    assert steps == {
        "run": ["run_query"],
        "poll": ["poll_query"],
        "get": ["get_sql_for_query_result"],
    }
    assert len(fm._idle) >= 1  # sockets are given back after a reply

    # remembered facts still answer to scopes: a role without the unit's scope is refused
    other = make_token({"a": ["run", "get_result", "spatial_aggregate:locations:daily_location"]})
    assert (await client.get(f"/api/0/poll/{query_id}", headers=bearer(other))).status_code == 403
