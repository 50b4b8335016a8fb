"""docs/developer-guide.md, "Adding a query kind in one place": its one-module kind, executed as written, then run
through the ZeroMQ server like any built-in kind."""

from __future__ import annotations

import re
import types
from pathlib import Path

import pytest

from flowmachine.core.server.query_schemas import registry
from flowmachine.core.server.query_schemas.flowmachine_query import FlowmachineQuerySchema

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "developer-guide.md"


def _kind_module_source() -> str:
    blocks = re.findall(r"```python\n(.*?)```", GUIDE.read_text(), flags=re.S)
    (source,) = [b for b in blocks if "@register_kind(" in b]
    return source


@pytest.fixture
def guide_kind(monkeypatch):
    FlowmachineQuerySchema.schemas_by_kind()  # built-in kinds register first, so they outlive the test
    for group, members in registry._registered.items():
        monkeypatch.setitem(registry._registered, group, list(members))
    module = types.ModuleType("guide_subscribers_seen")
    exec(compile(_kind_module_source(), str(GUIDE), "exec"), module.__dict__)
    return module


SPEC = {
    "start_date": "2016-01-01",
    "end_date": "2016-01-03",
    "aggregation_unit": "admin2",
}


def test_the_guides_kind_is_one_module_without_init(guide_kind):
    exposed = guide_kind.SubscribersSeenExposed
    assert "__init__" not in vars(exposed)
    assert FlowmachineQuerySchema.schemas_by_kind()["subscribers_seen"] is (
        guide_kind.SubscribersSeenSchema
    )


def test_the_guides_kind_runs_through_the_server(guide_kind, zmq_client, ctx):
    kinds = zmq_client.request("get_available_queries")["payload"]["available_queries"]
    assert "subscribers_seen" in kinds
    schemas = zmq_client.request("get_query_schemas")["payload"]["query_schemas"]
    assert "subscribers_seen" in schemas["FlowmachineQuerySchema"]["discriminator"]["mapping"]

    reply = zmq_client.request("run_query", query_kind="subscribers_seen", **SPEC)
    assert reply["status"] == "success", reply
    query_id = reply["payload"]["query_id"]
    # the same FlowMachine query as the built-in kind it wraps
    builtin = zmq_client.request("run_query", query_kind="unique_subscriber_counts", **SPEC)
    assert builtin["status"] == "success", builtin
    assert builtin["payload"]["query_id"] == query_id
    assert zmq_client.wait_for(query_id)["payload"]["query_state"] == "completed"

    bad = zmq_client.request("run_query", query_kind="subscribers_seen", **{**SPEC, "colour": 1})
    assert bad["status"] == "error"
    assert "colour" in bad["payload"]["validation_error_messages"]
