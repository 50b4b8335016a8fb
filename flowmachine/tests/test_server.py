"""The ZeroMQ server against the fixture FlowDB and a private Redis: every action, and every kind of bad input."""

from __future__ import annotations

import json
import time
import uuid

import pytest
import zmq
from marshmallow import fields, validate
from psycopg import sql
from zmq_client import ZMQClient, spawn_server, wait_for_ping

from flowdb.testing import free_port
from flowmachine.core.query import Query
from flowmachine.core.server.messages import ZMQRequest, parse_request
from flowmachine.core.server.query_schemas.base_exposed_query import BaseExposedQuery
from flowmachine.core.server.query_schemas.base_schema import BaseSchema
from flowmachine.core.server.query_schemas.flowmachine_query import FlowmachineQuerySchema
from flowmachine.core.server.server import ServerSettings
from flowmachine.core.server.server_context import ServerContext
from flowmachine.core.state import QueryEvent, QueryState

DAILY = {
    "query_kind": "daily_location",
    "date": "2016-03-01",
    "aggregation_unit": "admin1",
    "method": "last",
}
SPATIAL = {"query_kind": "spatial_aggregate", "locations": DAILY}


def rows(ctx, sql_text):
    with ctx.pool.connection() as conn:
        return conn.execute(sql_text).fetchall()


def run_to_completion(client, spec):
    reply = client.request("run_query", **spec)
    assert reply["status"] == "success", reply
    query_id = reply["payload"]["query_id"]
    assert client.wait_for(query_id)["payload"]["query_state"] == "completed"
    return query_id


# envelope -----------------------------------------------------------------------------------------------------


def test_ping(zmq_client):
    assert zmq_client.request("ping") == {"status": "success", "msg": "pong", "payload": {}}


@pytest.mark.parametrize(
    "raw,msg,key",
    [
        (b"{not json", "Invalid JSON.", "decode_error"),
        (b"\xff\xfe", "Invalid JSON.", "decode_error"),
        (b"[1, 2]", "Invalid action request.", "_schema"),
        (b'{"action": "ping"}', "Invalid action request.", "request_id"),
        (b'{"request_id": "r"}', "Invalid action request.", "action"),
        (b'{"request_id": "r", "action": "ping", "extra": 1}', "Invalid action request.", "extra"),
        (
            b'{"request_id": "r", "action": "ping", "params": [1]}',
            "Invalid action request.",
            "params",
        ),
        (b'{"request_id": "r", "action": "make_coffee"}', "Invalid action request.", "action"),
    ],
)
def test_bad_requests_get_error_replies(zmq_client, raw, msg, key):
    reply = zmq_client.send_raw(raw)
    assert reply["status"] == "error" and reply["msg"] == msg
    assert key in reply["payload"], reply


def test_wrong_params_for_an_action(zmq_client):
    reply = zmq_client.request("ping", colour="blue")
    assert reply == {
        "status": "error",
        "msg": "Internal flowmachine server error: wrong arguments passed to handler for action "
        "'ping'.",
        "payload": {},
    }
    assert zmq_client.request("poll_query")["status"] == "error"


def test_messages_that_are_not_from_a_req_socket_are_dropped(fm_server):
    zctx = zmq.Context()
    dealer = zctx.socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 0)
    dealer.setsockopt(zmq.RCVTIMEO, 5000)
    dealer.connect(f"tcp://127.0.0.1:{fm_server}")
    try:
        dealer.send(json.dumps({"request_id": "x", "action": "ping"}).encode())  # no delimiter
        message = {"request_id": "y", "action": "ping", "params": {}}
        dealer.send_multipart([b"", json.dumps(message).encode()])
        delimiter, body = dealer.recv_multipart()
        assert delimiter == b"" and json.loads(body)["msg"] == "pong"
    finally:
        dealer.close(linger=0)
        zctx.term()


def test_request_parsing_gives_a_typed_request():
    request = parse_request(b'{"request_id": "r1", "action": "ping"}', {"ping"})
    assert request == ZMQRequest(request_id="r1", action="ping", params={})


def test_server_settings_from_env():
    s = ServerSettings.from_env(
        {
            "FLOWMACHINE_PORT": "6000",
            "FLOWMACHINE_SERVER_THREADPOOL_SIZE": "lots",
            "FLOWMACHINE_SERVER_DEBUG_MODE": "TRUE",
            "FLOWMACHINE_SERVER_DISABLE_DEPENDENCY_CACHING": "true",
            "FLOWMACHINE_SERVER_STORE_DEPENDENCIES_FIRST": "true",
        }
    )
    assert (
        s.port,
        s.threadpool_size,
        s.debug_mode,
        s.store_dependencies,
        s.dependencies_first,
    ) == (
        6000,
        None,
        True,
        False,
        True,
    )
    assert not ServerSettings.from_env({}).dependencies_first
    assert ServerSettings.from_env({}).endpoint == "tcp://127.0.0.1:5555"


# query catalogue ----------------------------------------------------------------------------------------------


def test_available_queries_and_schemas(zmq_client):
    kinds = zmq_client.request("get_available_queries")["payload"]["available_queries"]
    assert {"spatial_aggregate", "flows", "geography", "histogram_aggregate"} <= set(kinds)
    schemas = zmq_client.request("get_query_schemas")["payload"]["query_schemas"]
    root = schemas["FlowmachineQuerySchema"]
    assert root["discriminator"]["propertyName"] == "query_kind"
    assert set(root["discriminator"]["mapping"]) == set(kinds)
    assert [r["$ref"] for r in root["oneOf"]] == list(root["discriminator"]["mapping"].values())
    text = json.dumps(schemas)
    for ref in {part.split('"')[0] for part in text.split('"$ref": "')[1:]}:
        assert ref.removeprefix("#/components/schemas/") in schemas, ref
    assert schemas["SpatialAggregate"]["properties"]["locations"] == {
        "$ref": "#/components/schemas/ReferenceLocation"
    }
    assert "daily_location" in schemas["ReferenceLocation"]["discriminator"]["mapping"]


# running a query ----------------------------------------------------------------------------------------------


def test_run_poll_and_fetch(zmq_client, ctx):
    reply = zmq_client.request("run_query", **SPATIAL)
    assert reply["status"] == "success", reply
    query_id = reply["payload"]["query_id"]
    assert len(query_id) == 32
    assert set(reply["payload"]["progress"]) == {"eligible", "queued", "running"}

    polled = zmq_client.wait_for(query_id)["payload"]
    assert polled["query_state"] == "completed"
    assert polled["query_kind"] == "spatial_aggregate"
    assert polled["progress"] == {"eligible": 0, "queued": 0, "running": 0}

    again = zmq_client.request("run_query", **SPATIAL)["payload"]
    assert again["query_id"] == query_id

    result = zmq_client.request("get_sql_for_query_result", query_id=query_id)
    assert result == {
        "status": "success",
        "msg": "",
        "payload": {
            "query_id": query_id,
            "query_state": "completed",
            "sql": f"SELECT * FROM cache.x{query_id}",
        },
    }
    got = rows(ctx, result["payload"]["sql"])
    assert got and all(value > 15 for _, value in got)

    kind = zmq_client.request("get_query_kind", query_id=query_id)["payload"]
    assert kind == {"query_id": query_id, "query_kind": "spatial_aggregate"}
    params = zmq_client.request("get_query_params", query_id=query_id)["payload"]
    assert params == {"query_id": query_id, "query_params": SPATIAL}

    geo = zmq_client.request("get_geo_sql_for_query_result", query_id=query_id)["payload"]
    assert geo["aggregation_unit"] == "admin1"
    features = rows(ctx, geo["sql"])
    assert len(features) == len(got)
    kind, _, geometry, properties = features[0]
    assert kind == "Feature" and geometry["type"] == "MultiPolygon"
    assert {"pcod", "value", "centroid"} <= set(properties)


def test_flows_geojson_has_outflows_and_inflows_per_location(zmq_client, ctx):
    """As FlowKit's: one feature per location with a flow, `outflows` {destination: value} and `inflows`
    {origin: value} (null when none), checked against the flows result itself."""
    day = {**DAILY, "aggregation_unit": "admin2"}
    spec = {
        "query_kind": "flows",
        "from_location": day,
        "to_location": {**day, "date": "2016-03-02"},
    }
    query_id = run_to_completion(zmq_client, spec)
    flows = rows(
        ctx, zmq_client.request("get_sql_for_query_result", query_id=query_id)["payload"]["sql"]
    )
    assert len(flows) > 1
    outflows: dict[str, dict[str, float]] = {}
    inflows: dict[str, dict[str, float]] = {}
    for origin, destination, value in flows:
        outflows.setdefault(origin, {})[destination] = float(value)
        inflows.setdefault(destination, {})[origin] = float(value)

    geo = zmq_client.request("get_geo_sql_for_query_result", query_id=query_id)["payload"]
    assert geo["aggregation_unit"] == "admin2"
    features = rows(ctx, geo["sql"])
    assert {f[1] for f in features} == set(outflows) | set(inflows)
    for kind, ident, geometry, properties in features:
        assert kind == "Feature" and geometry["type"] == "MultiPolygon"
        assert properties["pcod"] == ident
        assert properties["outflows"] == outflows.get(ident)
        assert properties["inflows"] == inflows.get(ident)
        assert properties["centroid"]["type"] == "Point"


def test_aggregation_unit(zmq_client):
    assert zmq_client.request("get_aggregation_unit", **SPATIAL)["payload"] == {
        "aggregation_unit": "admin1"
    }
    histogram = {
        "query_kind": "histogram_aggregate",
        "metric": {
            "query_kind": "event_count",
            "start_date": "2016-03-01",
            "end_date": "2016-03-02",
        },
        "bins": {"n_bins": 4},
    }
    assert zmq_client.request("get_aggregation_unit", **histogram)["payload"] == {
        "aggregation_unit": None
    }
    bad = zmq_client.request("get_aggregation_unit", query_kind="nonsense")
    assert bad["status"] == "error" and "query_kind" in bad["payload"]["validation_error_messages"]


@pytest.mark.parametrize(
    "spec,field",
    [
        ({"query_kind": "nonsense"}, "query_kind"),
        ({"locations": DAILY}, "query_kind"),
        ({**SPATIAL, "extra": 1}, "extra"),
        ({"query_kind": "spatial_aggregate", "locations": {**DAILY, "date": "soon"}}, "locations"),
    ],
)
def test_invalid_specs(zmq_client, spec, field):
    reply = zmq_client.request("run_query", **spec)
    assert reply["status"] == "error"
    assert reply["msg"].startswith("Parameter validation failed.")
    assert reply["payload"]["params"] == spec
    assert field in reply["payload"]["validation_error_messages"]


@pytest.mark.parametrize(
    "action",
    [
        "poll_query",
        "get_query_kind",
        "get_query_params",
        "get_sql_for_query_result",
        "cancel_query",
    ],
)
def test_unknown_query_ids(zmq_client, action):
    query_id = uuid.uuid4().hex
    reply = zmq_client.request(action, query_id=query_id)
    assert reply == {
        "status": "error",
        "msg": f"Unknown query id: '{query_id}'",
        "payload": {"query_id": query_id, "query_state": "awol"},
    }


def test_subscriber_subset_by_query_id(zmq_client):
    subset_spec = {**SPATIAL, "locations": {**DAILY, "aggregation_unit": "admin2"}}
    subset_id = zmq_client.request("run_query", **subset_spec)["payload"]["query_id"]
    spec = {
        "query_kind": "unique_subscriber_counts",
        "start_date": "2016-03-01",
        "end_date": "2016-03-02",
        "aggregation_unit": "admin1",
        "subscriber_subset": subset_id,
    }
    # spatial_aggregate has no subscriber column, so it is no subset: refused by validation
    reply = zmq_client.request("run_query", **spec)
    assert reply["status"] == "error"
    assert "subscriber_subset" in reply["payload"]["validation_error_messages"]


def test_cancel_of_a_completed_query_changes_nothing(zmq_client):
    query_id = run_to_completion(
        zmq_client, {"query_kind": "geography", "aggregation_unit": "admin2"}
    )
    reply = zmq_client.request("cancel_query", query_id=query_id)["payload"]
    assert reply == {"query_id": query_id, "query_state": "completed", "cancelled": False}


def test_wrong_state_message(zmq_client, ctx):
    query_id = run_to_completion(
        zmq_client, {"query_kind": "geography", "aggregation_unit": "admin0"}
    )
    from flowmachine.core.cache import invalidate

    invalidate(ctx, query_id, cascade=False)
    reply = zmq_client.request("get_sql_for_query_result", query_id=query_id)
    assert reply["status"] == "error"
    assert reply["msg"] == f"Query with id '{query_id}' is known, but has not yet been run."
    assert reply["payload"] == {"query_id": query_id, "query_state": "known"}


# data-side actions --------------------------------------------------------------------------------------------


def test_geography(zmq_client, ctx):
    reply = zmq_client.request("get_geography", aggregation_unit="admin3")
    assert reply["status"] == "success" and reply["payload"]["query_state"] == "completed"
    features = rows(ctx, reply["payload"]["sql"])
    assert len(features) == 16
    assert {f[3]["pcod"] for f in features} == {f[1] for f in features}
    bad = zmq_client.request("get_geography", aggregation_unit="admin7")
    assert bad["status"] == "error" and "aggregation_unit" in bad["payload"]


def test_available_dates(zmq_client):
    payload = zmq_client.request("get_available_dates")["payload"]
    assert {"2016-01-01", "2016-03-05"} <= set(payload["calls"])
    assert payload["calls"] == sorted(payload["calls"])


def test_qa_checks(zmq_client, flowdb_cluster, fixture_db):
    with flowdb_cluster.connect() as conn:
        conn.execute(
            """INSERT INTO etl.post_etl_queries (cdr_date, cdr_type, type_of_query_or_check, outcome)
               VALUES ('2016-03-02', 'calls', 'count_msisdns', '123'),
                      ('2016-03-03', 'calls', 'count_msisdns', '456')"""
        )
        conn.commit()
    listed = zmq_client.request("list_qa_checks")["payload"]["available_qa_checks"]
    assert {"cdr_type": "calls", "type_of_query_or_check": "count_msisdns"} in listed
    reply = zmq_client.request(
        "get_qa_checks",
        cdr_type="calls",
        check_type="count_msisdns",
        start_date="2016-03-01",
        end_date="2016-03-02",
    )
    assert reply["payload"] == {
        "qa_checks": [
            {"outcome": "123", "cdr_date": "2016-03-02", "type_of_query_or_check": "count_msisdns"}
        ]
    }
    none = zmq_client.request(
        "get_qa_checks",
        cdr_type="sms",
        check_type="x",
        start_date="2016-03-01",
        end_date="2016-03-02",
    )
    assert none["payload"] == {"qa_checks": []}
    bad = zmq_client.request(
        "get_qa_checks", cdr_type="sms", check_type="x", start_date="soon", end_date="2016-03-02"
    )
    assert bad["status"] == "error"


# several servers ----------------------------------------------------------------------------------------------


def test_two_server_processes_share_the_work(fm_settings, fixture_db, ctx):
    ports = [free_port(), free_port()]
    procs = [spawn_server(fm_settings, p) for p in ports]
    try:
        for port, proc in zip(ports, procs, strict=True):
            wait_for_ping(port, proc)
        spec = {
            "query_kind": "unique_subscriber_counts",
            "start_date": "2016-03-02",
            "end_date": "2016-03-04",
            "aggregation_unit": "admin2",
        }
        with ZMQClient(ports[0]) as a, ZMQClient(ports[1]) as b:
            query_id = a.request("run_query", **spec)["payload"]["query_id"]
            assert (
                b.request("get_query_params", query_id=query_id)["payload"]["query_params"] == spec
            )
            assert b.wait_for(query_id)["payload"]["query_state"] == "completed"
            sql_text = b.request("get_sql_for_query_result", query_id=query_id)["payload"]["sql"]
            assert rows(ctx, sql_text)
            # the second server runs the same spec: the same id, nothing computed again
            assert b.request("run_query", **spec)["payload"]["query_id"] == query_id
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=20)


# cancelling ---------------------------------------------------------------------------------------------------


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
    query_kind = "test_sleep"

    def __init__(self, *, seconds):
        self.seconds = seconds

    @property
    def _flowmachine_query_obj(self):
        return _Sleep(self.seconds)


class _SleepSchema(BaseSchema):
    __model__ = _SleepExposed
    query_kind = fields.String(validate=validate.OneOf([__model__.query_kind]), required=True)
    seconds = fields.Float(required=True)


def _wait_for_state(client, query_id, state, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.request("poll_query", query_id=query_id)["payload"]["query_state"] == state:
            return
        time.sleep(0.05)
    raise AssertionError(f"{query_id} never reached {state}")


def _add_kind(monkeypatch, schema) -> None:
    """Expose one more query kind for the length of a test."""
    monkeypatch.setattr(
        FlowmachineQuerySchema, "query_schemas", (*FlowmachineQuerySchema.query_schemas, schema)
    )


def test_cancel_a_running_query_and_run_it_again(zmq_client, monkeypatch):
    _add_kind(monkeypatch, _SleepSchema)
    spec = {"query_kind": "test_sleep", "seconds": 60 + time.time() % 1}
    query_id = zmq_client.request("run_query", **spec)["payload"]["query_id"]
    _wait_for_state(zmq_client, query_id, "executing")
    assert zmq_client.request("poll_query", query_id=query_id)["payload"]["progress"] == {
        "eligible": 1,
        "queued": 0,
        "running": 1,
    }
    reply = zmq_client.request("cancel_query", query_id=query_id)["payload"]
    assert reply == {"query_id": query_id, "query_state": "cancelled", "cancelled": True}
    result = zmq_client.request("get_sql_for_query_result", query_id=query_id)
    assert result["msg"] == f"Query with id '{query_id}' was cancelled."
    assert result["payload"]["query_state"] == "cancelled"

    # FlowKit resets a cancelled query when it is run again
    assert zmq_client.request("run_query", **spec)["payload"]["query_id"] == query_id
    _wait_for_state(zmq_client, query_id, "executing")
    assert zmq_client.request("cancel_query", query_id=query_id)["payload"]["cancelled"] is True


class _OnTopOf(Query):
    """A toy query over one stored dependency."""

    def __init__(self, below: Query):
        self.below = below
        super().__init__()

    @property
    def column_names(self):
        return ["slept"]

    def _make_query(self, ctx):
        return sql.SQL("SELECT slept FROM ({}) b").format(self.below.get_query(ctx))


class _Fails(_Sleep):
    def _make_query(self, ctx):
        return sql.SQL("SELECT 1 / 0 AS slept FROM pg_sleep({})").format(sql.Literal(self.seconds))


class _StackedExposed(BaseExposedQuery):
    query_kind = "test_stacked"

    def __init__(self, *, seconds, fail):
        self.seconds, self.fail = seconds, fail

    @property
    def _flowmachine_query_obj(self):
        return _OnTopOf((_Fails if self.fail else _Sleep)(self.seconds))


class _StackedSchema(BaseSchema):
    __model__ = _StackedExposed
    query_kind = fields.String(validate=validate.OneOf([__model__.query_kind]), required=True)
    seconds = fields.Float(required=True)
    fail = fields.Boolean(required=True)


@pytest.fixture
def stacked_kind(monkeypatch):
    _add_kind(monkeypatch, _StackedSchema)


def test_a_failed_dependency_fails_the_query(zmq_client, ctx, stacked_kind):
    spec = {"query_kind": "test_stacked", "seconds": time.time() % 1 / 100, "fail": True}
    query_id = zmq_client.request("run_query", **spec)["payload"]["query_id"]
    _wait_for_state(zmq_client, query_id, "errored")
    result = zmq_client.request("get_sql_for_query_result", query_id=query_id)
    assert result["status"] == "error" and result["payload"]["query_state"] == "errored"
    assert result["msg"] == f"Query with id '{query_id}' finished with an error."  # FlowKit's words
    assert "division by zero" in ctx.states.info(query_id).message  # the dependency's own failure
    # errored stays errored when run again (FlowKit does not retry a failure)
    assert zmq_client.request("run_query", **spec)["payload"]["query_id"] == query_id
    polled = zmq_client.request("poll_query", query_id=query_id)
    assert polled["payload"]["query_state"] == "errored"
    assert "division by zero" in polled["msg"]  # poll says why (FlowKit's msg is empty)


def test_cancel_while_the_dependencies_run(
    zmq_client, ctx, stacked_kind, fm_server_obj, monkeypatch
):
    """Cancelled while its dependency computes: the query never runs, the dependency finishes and stays."""
    monkeypatch.setattr(fm_server_obj.server, "dependencies_first", True)  # FlowKit's order
    spec = {"query_kind": "test_stacked", "seconds": 2 + time.time() % 1, "fail": False}
    query_id = zmq_client.request("run_query", **spec)["payload"]["query_id"]
    deadline = time.monotonic() + 20
    while zmq_client.request("poll_query", query_id=query_id)["payload"]["progress"] != {
        "eligible": 2,
        "queued": 0,
        "running": 1,
    }:
        assert time.monotonic() < deadline, "the dependency never started"
        time.sleep(0.05)
    assert zmq_client.request("poll_query", query_id=query_id)["payload"]["query_state"] == "queued"
    reply = zmq_client.request("cancel_query", query_id=query_id)["payload"]
    assert reply == {"query_id": query_id, "query_state": "cancelled", "cancelled": True}
    below = _Sleep(spec["seconds"])
    deadline = time.monotonic() + 20
    while ctx.states.state(below.query_id).name != "COMPLETED":
        assert time.monotonic() < deadline, "the dependency never finished"
        time.sleep(0.05)
    time.sleep(0.3)  # the run has unwound by now
    assert (
        zmq_client.request("poll_query", query_id=query_id)["payload"]["query_state"] == "cancelled"
    )
    assert not rows(ctx, f"SELECT to_regclass('cache.x{query_id}') IS NOT NULL")[0][0]


def _depends_on(ctx, query_id):
    return {
        r[0]
        for r in rows(
            ctx, f"SELECT depends_on FROM cache.dependencies WHERE query_id = '{query_id}'"
        )
    }


def _wait_until(predicate, what, timeout=20):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_answer_first_then_the_dependencies_in_idle_time(zmq_client, ctx, stacked_kind):
    """By default the query is computed with its unstored dependency inlined (so only the query itself is
    eligible), and the dependency is stored once the server is idle, giving the rows the query was built from."""
    spec = {"query_kind": "test_stacked", "seconds": 1 + time.time() % 1 / 100, "fail": False}
    query_id = zmq_client.request("run_query", **spec)["payload"]["query_id"]
    below = _Sleep(spec["seconds"])
    _wait_for_state(zmq_client, query_id, "executing")
    progress = zmq_client.request("poll_query", query_id=query_id)["payload"]["progress"]
    assert progress == {"eligible": 1, "queued": 0, "running": 1}
    assert ctx.states.state(below.query_id).name == "KNOWN"  # inlined, not stored first
    _wait_for_state(zmq_client, query_id, "completed")
    assert _depends_on(ctx, query_id) == set()  # it read no cache table
    _wait_until(
        lambda: ctx.states.state(below.query_id).name == "COMPLETED",
        "the dependency was never stored",
    )
    assert rows(ctx, f"SELECT slept FROM cache.x{below.query_id}") == rows(
        ctx, f"SELECT slept FROM cache.x{query_id}"
    )


def test_a_dependency_under_way_is_awaited_not_inlined(zmq_client, ctx, stacked_kind):
    spec = {"query_kind": "test_stacked", "seconds": 1 + time.time() % 1 / 100, "fail": False}
    below = _Sleep(spec["seconds"])
    future = below.store(ctx)
    _wait_until(lambda: ctx.states.state(below.query_id).name == "EXECUTING", "never started")
    query_id = zmq_client.request("run_query", **spec)["payload"]["query_id"]
    _wait_for_state(zmq_client, query_id, "completed")
    future.result(timeout=10)
    assert _depends_on(ctx, query_id) == {below.query_id}  # read from its table, not computed again


def test_the_cell_mapping_is_stored_before_the_answer(zmq_client, ctx):
    from flowmachine.core.cache import invalidate

    spec = {
        "query_kind": "spatial_aggregate",
        "locations": {**DAILY, "date": "2016-03-04", "aggregation_unit": "admin2"},
    }
    query = FlowmachineQuerySchema().load(spec)._flowmachine_query_obj
    daily = query.locations
    invalidate(ctx, query.query_id)
    invalidate(ctx, daily.query_id)
    mapping = daily.spatial_unit
    query_id = run_to_completion(zmq_client, spec)
    assert query_id == query.query_id
    assert mapping.store_first and ctx.states.state(mapping.query_id).name == "COMPLETED"
    assert _depends_on(ctx, query_id) == {mapping.query_id}  # the daily location was inlined
    _wait_until(lambda: daily.is_stored(ctx), "the daily location was never stored")


def _fresh_dummy_spec() -> dict:
    return {
        "query_kind": "dummy_query",
        "aggregation_unit": "admin2",
        "dummy_param": uuid.uuid4().hex,
    }


def _abandon(server_ctx, spec: dict) -> str:
    """Make `spec` look like a run a process took and died with: spec saved, claim and state owned by a
    process that holds no lease."""
    query_id = server_ctx.load_spec(spec)._flowmachine_query_obj.query_id
    server_ctx.records.save_spec(query_id, spec)
    assert server_ctx.records.mark_submitted(query_id, "process-that-died")
    states = server_ctx.ctx.states
    states.trigger(query_id, QueryEvent.QUEUE, owner="process-that-died")
    states.trigger(query_id, QueryEvent.EXECUTE, owner="process-that-died")
    assert states.state(query_id) is QueryState.EXECUTING
    return query_id


def test_a_run_abandoned_by_a_dead_process_is_resumed_when_polled(zmq_client, fm_server_obj):
    spec = _fresh_dummy_spec()
    query_id = _abandon(fm_server_obj.server, spec)
    polled = zmq_client.request("poll_query", query_id=query_id)
    assert polled["payload"]["query_state"] in {"queued", "executing", "completed"}
    _wait_for_state(zmq_client, query_id, "completed")
    assert not fm_server_obj.server.records.abandoned(query_id)  # the claim ended with the run


def test_a_known_query_nobody_took_is_not_started_by_a_poll(zmq_client, fm_server_obj):
    spec = _fresh_dummy_spec()
    server_ctx = fm_server_obj.server
    query_id = server_ctx.load_spec(spec)._flowmachine_query_obj.query_id
    server_ctx.records.save_spec(query_id, spec)  # run once, then evicted: known, no claim
    for _ in range(3):
        polled = zmq_client.request("poll_query", query_id=query_id)
        assert polled["payload"]["query_state"] == "known"


def test_a_starting_server_resumes_the_runs_of_dead_processes(ctx, fm_server_obj):
    spec = _fresh_dummy_spec()
    query_id = _abandon(fm_server_obj.server, spec)
    starting = ServerContext(ctx)  # what FlowmachineServer does first on start-up
    try:
        assert starting.resume_abandoned() == [query_id]
        # The run is on the executor, which may not have taken it yet (the state then still reads known):
        # wait for the run itself, not for the state to leave flight.
        starting.wait_for_local_run(query_id, timeout=60)
        assert ctx.states.state(query_id) is QueryState.COMPLETED
        assert starting.resume_abandoned() == []  # nothing left to resume
    finally:
        starting.wait_for_local_run(query_id)
        starting.close()
