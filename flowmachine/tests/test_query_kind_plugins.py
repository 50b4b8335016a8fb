"""Query kinds from installed packages: a real distribution (a package plus its `*.dist-info` with
`entry_points.txt`) in a temporary directory on the path, found by importlib.metadata like any installed one."""

from __future__ import annotations

import os
import textwrap

import pytest
from zmq_client import ZMQClient, spawn_server, wait_for_ping

from flowdb.testing import free_port
from flowmachine.core.errors import FlowMachineError
from flowmachine.core.server.plugins import load_plugins, register_query_schema
from flowmachine.core.server.query_schemas.flowmachine_query import FlowmachineQuerySchema
from flowmachine.core.server.query_schemas.geography import GeographySchema

PLUGIN_SOURCE = '''
"""A third-party query kind: the numbers 1..n (no subscriber data, so no redaction needed)."""

from marshmallow import fields, validate
from psycopg import sql

from flowmachine.core.query import Query
from flowmachine.core.server.query_schemas.base_exposed_query import BaseExposedQuery
from flowmachine.core.server.query_schemas.base_schema import BaseSchema


class Series(Query):
    def __init__(self, n):
        self.n = n
        super().__init__()

    @property
    def column_names(self):
        return ["value"]

    def _make_query(self, ctx):
        return sql.SQL("SELECT generate_series(1, {}) AS value").format(sql.Literal(self.n))


class SeriesExposed(BaseExposedQuery):
    query_kind = "toy_series"

    def __init__(self, *, n):
        self.n = n

    @property
    def _flowmachine_query_obj(self):
        return Series(self.n)


class SeriesSchema(BaseSchema):
    __model__ = SeriesExposed

    query_kind = fields.String(validate=validate.OneOf([__model__.query_kind]), required=True)
    n = fields.Integer(required=True, validate=validate.Range(1, 100))
'''


@pytest.fixture
def plugin_dir(tmp_path, monkeypatch):
    """`toy_plugin` installed into a directory of its own, which is put on sys.path."""
    (tmp_path / "toy_plugin").mkdir()
    (tmp_path / "toy_plugin" / "__init__.py").write_text(PLUGIN_SOURCE)
    dist = tmp_path / "toy_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        textwrap.dedent(
            """\
            [flowmachine.query_kinds]
            toy_series = toy_plugin:SeriesSchema
            """
        )
    )
    # restore the registry after the test, whatever the plugin loader adds
    monkeypatch.setattr(
        FlowmachineQuerySchema, "query_schemas", FlowmachineQuerySchema.query_schemas
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_plugin_kind_loads_and_runs_in_process(plugin_dir, zmq_client, ctx):
    assert load_plugins() == ["toy_series"]
    assert load_plugins() == ["toy_series"]  # loading twice registers once
    kinds = zmq_client.request("get_available_queries")["payload"]["available_queries"]
    assert kinds.count("toy_series") == 1
    reply = zmq_client.request("run_query", query_kind="toy_series", n=5)
    query_id = reply["payload"]["query_id"]
    assert zmq_client.wait_for(query_id)["payload"]["query_state"] == "completed"
    sql_text = zmq_client.request("get_sql_for_query_result", query_id=query_id)["payload"]["sql"]
    with ctx.pool.connection() as conn:
        assert [r[0] for r in conn.execute(sql_text)] == [1, 2, 3, 4, 5]


def test_server_process_loads_plugins_at_start(plugin_dir, fm_settings, fixture_db):
    port = free_port()
    pythonpath = os.pathsep.join(filter(None, [str(plugin_dir), os.environ.get("PYTHONPATH")]))
    proc = spawn_server(fm_settings, port, PYTHONPATH=pythonpath)
    try:
        wait_for_ping(port, proc)
        with ZMQClient(port) as client:
            kinds = client.request("get_available_queries")["payload"]["available_queries"]
            assert "toy_series" in kinds
            schemas = client.request("get_query_schemas")["payload"]["query_schemas"]
            assert schemas["Series"]["properties"]["n"]["maximum"] == 100
            query_id = client.request("run_query", query_kind="toy_series", n=3)["payload"][
                "query_id"
            ]
            assert client.wait_for(query_id)["payload"]["query_state"] == "completed"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_a_kind_cannot_be_registered_twice(monkeypatch):
    monkeypatch.setattr(
        FlowmachineQuerySchema, "query_schemas", FlowmachineQuerySchema.query_schemas
    )

    class Impostor(GeographySchema):
        pass

    with pytest.raises(FlowMachineError, match="already registered"):
        register_query_schema(FlowmachineQuerySchema, Impostor)
    with pytest.raises(FlowMachineError, match="not a query schema"):
        register_query_schema(FlowmachineQuerySchema, dict)


def test_a_broken_plugin_stops_the_start(plugin_dir):
    (plugin_dir / "toy_plugin-0.1.dist-info" / "entry_points.txt").write_text(
        "[flowmachine.query_kinds]\nbroken = toy_plugin:NoSuchSchema\n"
    )
    with pytest.raises(FlowMachineError, match="broken"):
        load_plugins()
