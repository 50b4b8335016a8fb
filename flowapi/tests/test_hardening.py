"""FlowMachine unavailable (503 + Retry-After on every route), the spec while FlowMachine is down, no database
text in error bodies, and the security headers. A fake FlowMachine (a ZeroMQ ROUTER in a thread) plays the
unavailable or misbehaving server."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import replace

import pytest
from flowapi_test_helpers import SPATIAL, SPATIAL_SCOPES, bearer, fake_flowmachine

from flowapi import create_app
from flowapi.main import hypercorn_config

pytestmark = pytest.mark.asyncio

UNAVAILABLE = {
    "status": "error",
    "msg": "FlowMachine cannot reach its query state store; try again shortly.",
    "payload": {"unavailable": "redis", "retry_after": 7},
}
SCHEMAS = {"FlowmachineQuerySchema": {"oneOf": [], "discriminator": {"propertyName": "query_kind"}}}
EVERYTHING = [
    "run",
    "get_result",
    "get_available_dates",
    "get_qa_checks",
    "admin3:geography:geography",
    *SPATIAL_SCOPES,
]


async def test_every_route_answers_flowmachine_unavailable_with_503(settings, make_token):
    with fake_flowmachine(lambda request: UNAVAILABLE) as port:
        app = create_app(replace(settings, flowmachine_port=port))
        async with app.test_app() as test_app:
            client = test_app.test_client()
            headers = bearer(make_token({"r": EVERYTHING}))
            query_id = "0" * 32
            for method, path in (
                ("POST", "/api/0/run"),
                ("GET", f"/api/0/poll/{query_id}"),
                ("GET", f"/api/0/get/{query_id}"),
                ("GET", f"/api/0/get/{query_id}.geojson"),
                ("DELETE", f"/api/0/query/{query_id}"),
                ("GET", "/api/0/geography/admin3"),
                ("GET", "/api/0/available_dates"),
                ("GET", "/api/0/qa/"),
                ("GET", "/api/0/qa/calls/count_api/2016-03-01"),
                ("GET", "/api/0/spec/openapi.json"),  # never fetched: nothing to serve yet
            ):
                body = SPATIAL if method == "POST" else None
                response = await client.open(path, method=method, json=body, headers=headers)
                assert response.status_code == 503, path
                assert response.headers["Retry-After"] == "7", path
                assert await response.get_json() == UNAVAILABLE, path


async def test_spec_is_served_from_memory_while_flowmachine_is_down(settings):
    up = {"answering": True}

    def answer(request):
        assert request["action"] == "get_query_schemas"
        if not up["answering"]:
            return None
        return {"status": "success", "msg": "", "payload": {"query_schemas": SCHEMAS}}

    with fake_flowmachine(answer) as port:
        # every request finds the document old, so each starts a refresh in the background
        app = create_app(replace(settings, flowmachine_port=port, spec_refresh_seconds=0))
        async with app.test_app() as test_app:
            client = test_app.test_client()
            first = await client.get("/api/0/spec/openapi.json")
            assert first.status_code == 200
            document = await first.get_json()
            up["answering"] = False
            started = time.monotonic()
            for path in ("/api/0/spec/openapi.json", "/api/0/spec/openapi.json"):
                again = await client.get(path)
                assert again.status_code == 200 and await again.get_json() == document
            as_yaml = await client.get("/api/0/spec/openapi.yaml")
            assert as_yaml.status_code == 200
            assert time.monotonic() - started < 3  # not the 5 s a fetch may wait, nor 30 s


async def test_database_errors_reach_the_log_not_the_client(settings, make_token, caplog):
    """A result FlowDB refuses to read (here: SQL on `infrastructure`, which FlowAPI's role may not read)."""
    caplog.set_level(logging.ERROR, logger="flowapi.debug")
    reply = {
        "status": "success",
        "msg": "",
        "payload": {"query_state": "completed", "sql": "SELECT id FROM infrastructure.cells"},
    }
    with fake_flowmachine(lambda request: reply) as port:
        app = create_app(replace(settings, flowmachine_port=port))
        async with app.test_app() as test_app:
            client = test_app.test_client()
            token = make_token({"r": ["get_result", "admin3:geography:geography"]})
            response = await client.get("/api/0/geography/admin3", headers=bearer(token))
    assert response.status_code == 500
    body = await response.get_json()
    request_id = response.headers["X-Request-ID"]
    assert body == {
        "status": "error",
        "msg": f"Could not read geography 'admin3'. (request id {request_id})",
        "request_id": request_id,
    }
    logged = [r for r in caplog.records if getattr(r, "request_id", None) == request_id]
    assert logged and "permission denied" in logged[0].exc_text


async def test_security_headers(client):
    for path, status in (("/api/0/spec/openapi.json", 200), ("/api/0/nothing", 404), ("/", 200)):
        response = await client.get(path)
        assert response.status_code == status
        headers = response.headers
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "no-referrer"
        assert headers["Cache-Control"] == "no-store"
        assert headers["Content-Security-Policy"].startswith("default-src 'none'")
        assert "Server" not in headers
    page = await client.get("/api/0/spec/redoc")
    policy = page.headers["Content-Security-Policy"]
    assert "script-src https://cdn.redoc.ly" in policy and "frame-ancestors 'none'" in policy
    # hypercorn adds no `Server` header naming itself
    config = hypercorn_config(client.app.extensions["flowapi"].settings)
    assert b"server" not in dict(config.response_headers("h11"))


async def test_too_deep_json_is_400(client, universal_token):
    headers = {**bearer(universal_token), "Content-Type": "application/json"}
    for body in (
        b"[" * 990 + b"]" * 990,
        json.dumps({**SPATIAL, "extra": json.loads("[" * 101 + "]" * 101)}).encode(),
    ):
        response = await client.post("/api/0/run", data=body, headers=headers)
        assert response.status_code == 400
        assert await response.get_json() == {
            "status": "error",
            "msg": "Could not parse query spec: JSON nested more than 100 levels deep.",
            "payload": {"max_depth": 100},
        }
    # 100 levels are read, and FlowMachine judges the spec
    deep = json.dumps({**SPATIAL, "extra": json.loads("[" * 99 + "]" * 99)}).encode()
    response = await client.post("/api/0/run", data=deep, headers=headers)
    assert response.status_code == 400
    assert (await response.get_json())["msg"].startswith("Parameter validation failed.")
