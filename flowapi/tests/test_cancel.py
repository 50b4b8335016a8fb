"""DELETE /api/0/query/<id> stops a running query (a slow test-only query kind, added in process)."""

from __future__ import annotations

import asyncio
import time

import pytest
from flowapi_test_helpers import bearer
from marshmallow import fields, validate
from psycopg import sql

from flowmachine.core.query import Query
from flowmachine.core.server.query_schemas.base_exposed_query import BaseExposedQuery
from flowmachine.core.server.query_schemas.base_schema import BaseSchema
from flowmachine.core.server.query_schemas.flowmachine_query import FlowmachineQuerySchema

pytestmark = pytest.mark.asyncio


class _Sleep(Query):
    def __init__(self, seconds):
        self.seconds = seconds
        super().__init__()

    @property
    def column_names(self):
        return ["slept"]

    def _make_query(self, ctx):
        return sql.SQL("SELECT 1 AS slept FROM pg_sleep({})").format(sql.Literal(self.seconds))


class _SleepExposed(BaseExposedQuery):
    query_kind = "api_test_sleep"

    def __init__(self, *, seconds):
        self.seconds = seconds

    @property
    def _flowmachine_query_obj(self):
        return _Sleep(self.seconds)


class _SleepSchema(BaseSchema):
    __model__ = _SleepExposed
    query_kind = fields.String(validate=validate.OneOf([__model__.query_kind]), required=True)
    seconds = fields.Float(required=True)


async def _poll_until(client, token, query_id, status, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = await client.get(f"/api/0/poll/{query_id}", headers=bearer(token))
        if (await response.get_json()).get("status") == status:
            return response
        await asyncio.sleep(0.05)
    raise AssertionError(f"{query_id} never reached {status}")


async def test_cancel_a_running_query(client, make_token, monkeypatch):
    monkeypatch.setattr(
        FlowmachineQuerySchema,
        "query_schemas",
        (*FlowmachineQuerySchema.query_schemas, _SleepSchema),
    )
    scopes = ["nonspatial:api_test_sleep:api_test_sleep"]
    token = make_token({"r": ["run", "get_result", *scopes]})
    spec = {"query_kind": "api_test_sleep", "seconds": 60 + time.time() % 1}
    run = await client.post("/api/0/run", json=spec, headers=bearer(token))
    assert run.status_code == 202
    query_id = (await run.get_json())["query_id"]
    executing = await _poll_until(client, token, query_id, "executing")
    assert executing.status_code == 202
    assert (await executing.get_json())["progress"]["running"] == 1

    # a reader (no `run`) may not cancel
    reader = make_token({"r": ["get_result", *scopes]})
    assert (
        await client.delete(f"/api/0/query/{query_id}", headers=bearer(reader))
    ).status_code == 403

    response = await client.delete(f"/api/0/query/{query_id}", headers=bearer(token))
    assert response.status_code == 200
    assert await response.get_json() == {
        "query_id": query_id,
        "query_state": "cancelled",
        "cancelled": True,
    }
    polled = await client.get(f"/api/0/poll/{query_id}", headers=bearer(token))
    assert polled.status_code == 500  # FlowKit: errored and cancelled queries poll as 500
    assert (await polled.get_json())["status"] == "cancelled"
    got = await client.get(f"/api/0/get/{query_id}", headers=bearer(token))
    assert got.status_code == 404
