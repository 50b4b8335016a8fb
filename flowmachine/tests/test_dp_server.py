"""The FlowMachine server in differential-privacy release mode (FLOWMACHINE_RELEASE_MODE), through ZeroMQ against
the fixture FlowDB: which specs it accepts, what it releases, and what its replies carry; and that the default
(redaction) mode is unchanged."""

from __future__ import annotations

from dataclasses import replace

import pytest
from psycopg import sql
from zmq_client import ZMQClient

from flowmachine.core.cache import invalidate
from flowmachine.core.errors import FlowMachineError
from flowmachine.core.server.dp_schemas import DP_KINDS, PUBLIC_KINDS, root_schema
from flowmachine.core.server.query_schemas.flowmachine_query import FlowmachineQuerySchema
from flowmachine.core.settings import Settings
from flowmachine.testing import server_in_thread

DAILY = {
    "query_kind": "daily_location",
    "date": "2016-03-01",
    "aggregation_unit": "admin3",
    "method": "last",
}
SPATIAL = {"query_kind": "spatial_aggregate", "locations": DAILY, "epsilon": 1.0}
ADMIN3 = sorted(
    f"Z.{1 + ix // 2}.{1 + ix // 2 * 2 + iy // 2}.{ix}{iy}" for ix in range(4) for iy in range(4)
)


@pytest.fixture(scope="module")
def dp_port(fm_settings, fixture_db):
    with server_in_thread(replace(fm_settings, release_mode="differential_privacy")) as server:
        yield server.settings.port


@pytest.fixture
def dp_client(dp_port):
    with ZMQClient(dp_port) as client:
        yield client


def run_to_completion(client: ZMQClient, spec: dict) -> str:
    reply = client.request("run_query", **spec)
    assert reply["status"] == "success", reply
    query_id = reply["payload"]["query_id"]
    assert client.wait_for(query_id)["payload"]["query_state"] == "completed"
    return query_id


def table_rows(ctx, query_id: str) -> list[tuple]:
    with ctx.pool.connection() as conn:
        table = sql.Identifier("cache", f"x{query_id}")
        return conn.execute(
            sql.SQL("SELECT pcod, value FROM {} ORDER BY pcod").format(table)
        ).fetchall()


# the switch -----------------------------------------------------------------------------------------------


def test_dp_mode_is_off_by_default_and_validated():
    assert Settings.from_env({}, secrets_dir=None).release_mode == "redaction"
    assert root_schema(Settings()) is FlowmachineQuerySchema
    on = Settings.from_env(
        {"FLOWMACHINE_RELEASE_MODE": "differential_privacy", "FLOWMACHINE_DP_MAX_EPSILON": "2.5"},
        secrets_dir=None,
    )
    assert on.differential_privacy and on.dp_max_epsilon == 2.5
    with pytest.raises(FlowMachineError, match="FLOWMACHINE_RELEASE_MODE"):
        Settings.from_env({"FLOWMACHINE_RELEASE_MODE": "noise"}, secrets_dir=None)
    with pytest.raises(FlowMachineError, match="FLOWMACHINE_DP_MAX_EPSILON"):
        Settings.from_env({"FLOWMACHINE_DP_MAX_EPSILON": "-1"}, secrets_dir=None)


def test_dp_redaction_mode_unchanged(zmq_client):
    """Without the switch, epsilon is an unknown field and result replies name no epsilon."""
    refused = zmq_client.request("run_query", **SPATIAL)
    assert refused["status"] == "error"
    assert "epsilon" in refused["payload"]["validation_error_messages"]
    plain = {k: v for k, v in SPATIAL.items() if k != "epsilon"}
    query_id = run_to_completion(zmq_client, plain)
    reply = zmq_client.request("get_sql_for_query_result", query_id=query_id)
    assert set(reply["payload"]) == {"query_id", "query_state", "sql"}
    kinds = zmq_client.request("get_available_queries")["payload"]["available_queries"]
    assert "geography" in kinds and "joined_spatial_aggregate" in kinds


# validation -------------------------------------------------------------------------------------------------


def test_dp_mode_lists_and_describes_only_the_private_kinds(dp_client):
    kinds = dp_client.request("get_available_queries")["payload"]["available_queries"]
    assert sorted(kinds) == sorted(DP_KINDS + PUBLIC_KINDS)
    schemas = dp_client.request("get_query_schemas")["payload"]["query_schemas"]
    for name in ("SpatialAggregate", "Flows", "HistogramAggregate", "LocationEventCounts"):
        assert "epsilon" in schemas[name]["required"]
        assert schemas[name]["properties"]["epsilon"]["maximum"] == 10.0
    mapping = schemas["FlowmachineQuerySchema"]["discriminator"]["mapping"]
    assert sorted(mapping) == sorted(DP_KINDS + PUBLIC_KINDS)
    assert "epsilon" not in schemas["Geography"]["properties"]


def test_dp_mode_serves_the_units_boundaries(dp_client):
    """Boundaries hold no subscriber data: their scopes are published so FlowAuth can grant /geography."""
    reply = dp_client.request("run_query", query_kind="geography", aggregation_unit="admin3")
    assert reply["status"] == "success", reply
    geography = dp_client.request("get_geography", aggregation_unit="admin3")
    assert geography["status"] == "success", geography


@pytest.mark.parametrize(
    "spec,field,words",
    [
        (
            {"query_kind": "meaningful_locations_aggregate", "aggregation_unit": "admin3"},
            "query_kind",
            "only",
        ),
        (
            {"query_kind": "joined_spatial_aggregate", "locations": DAILY, "metric": {}},
            "query_kind",
            "differentially private",
        ),
        ({k: v for k, v in SPATIAL.items() if k != "epsilon"}, "epsilon", "Missing"),
        ({**SPATIAL, "epsilon": 0}, "epsilon", "greater than 0"),
        ({**SPATIAL, "epsilon": -1}, "epsilon", "greater than 0"),
        ({**SPATIAL, "epsilon": 10.5}, "epsilon", "less than or equal to 10"),
        ({**SPATIAL, "epsilon": "lots"}, "epsilon", "number"),
        (
            {
                "query_kind": "flows",
                "from_location": DAILY,
                "to_location": {**DAILY, "date": "2016-03-02"},
                "join_type": "left",
                "epsilon": 1,
            },
            "join_type",
            "inner",
        ),
        (
            {
                "query_kind": "histogram_aggregate",
                "metric": {
                    "query_kind": "event_count",
                    "start_date": "2016-03-01",
                    "end_date": "2016-03-02",
                },
                "bins": {"n_bins": 5},
                "epsilon": 1,
            },
            "range",
            "range",
        ),
    ],
)
def test_dp_mode_refuses_what_it_cannot_release(dp_client, spec, field, words):
    reply = dp_client.request("run_query", **spec)
    assert reply["status"] == "error", reply
    assert reply["msg"].startswith("Parameter validation failed.")
    messages = reply["payload"]["validation_error_messages"]
    assert field in messages, messages
    assert words in str(messages[field])


# releases ---------------------------------------------------------------------------------------------------


def test_dp_release_has_every_unit_and_names_its_epsilon(dp_client, ctx):
    query_id = run_to_completion(dp_client, SPATIAL)
    assert dp_client.request("run_query", **SPATIAL)["payload"]["query_id"] == query_id
    other = dp_client.request("run_query", **{**SPATIAL, "epsilon": 0.5})["payload"]["query_id"]
    assert other != query_id  # epsilon is part of the query id
    reply = dp_client.request("get_sql_for_query_result", query_id=query_id)
    assert reply["status"] == "success"
    assert reply["payload"]["epsilon"] == 1.0
    rows = table_rows(ctx, query_id)
    assert [pcod for pcod, _ in rows] == ADMIN3  # every unit, with data or not
    assert all(isinstance(v, int) and v >= 0 for _, v in rows)
    geo = dp_client.request("get_geo_sql_for_query_result", query_id=query_id)
    assert geo["status"] == "success"
    assert geo["payload"]["epsilon"] == 1.0
    assert geo["payload"]["aggregation_unit"] == "admin3"


def test_dp_same_query_id_same_answer_after_reset(dp_client, ctx):
    spec = {
        "query_kind": "unique_subscriber_counts",
        "start_date": "2016-03-01",
        "end_date": "2016-03-03",
        "aggregation_unit": "admin3",
        "epsilon": 0.05,  # noisy enough that a second draw would differ
    }
    query_id = run_to_completion(dp_client, spec)
    first = table_rows(ctx, query_id)
    invalidate(ctx, query_id)  # the cache entry is dropped, as eviction or a reset would
    assert dp_client.request("poll_query", query_id=query_id)["payload"]["query_state"] != (
        "completed"
    )
    assert run_to_completion(dp_client, spec) == query_id
    assert table_rows(ctx, query_id) == first


ADMIN2_WINDOW = {"start_date": "2016-03-01", "end_date": "2016-03-03", "aggregation_unit": "admin2"}


@pytest.mark.parametrize(
    "spec,rows",
    [
        ({"query_kind": "location_event_counts", **ADMIN2_WINDOW, "interval": "day"}, 4 * 2),
        ({"query_kind": "total_network_objects", **ADMIN2_WINDOW, "total_by": "day"}, 4 * 2),
        (
            {
                "query_kind": "flows",
                "from_location": {**DAILY, "aggregation_unit": "admin2"},
                "to_location": {**DAILY, "aggregation_unit": "admin2", "date": "2016-03-02"},
            },
            4 * 4,
        ),
        (
            {
                "query_kind": "histogram_aggregate",
                "metric": {
                    "query_kind": "event_count",
                    "start_date": "2016-03-01",
                    "end_date": "2016-03-03",
                },
                "bins": {"bin_list": [0, 10, 100, 1000, 10000]},
            },
            4,
        ),
    ],
)
def test_dp_every_kind_releases_every_key(dp_client, ctx, spec, rows):
    query_id = run_to_completion(dp_client, {**spec, "epsilon": 2})
    reply = dp_client.request("get_sql_for_query_result", query_id=query_id)
    assert reply["payload"]["epsilon"] == 2
    with ctx.pool.connection() as conn:
        values = [
            r[0]
            for r in conn.execute(
                sql.SQL("SELECT value FROM {}").format(sql.Identifier("cache", f"x{query_id}"))
            )
        ]
    assert len(values) == rows
    assert all(isinstance(v, int) and v >= 0 for v in values)


def test_dp_query_id_is_unknown_to_a_redaction_mode_server(dp_client, zmq_client):
    """Servers sharing Redis in different release modes (or a server switched back to redaction): a query id
    run in DP mode is unknown to the redaction-mode server, not a failure."""
    query_id = run_to_completion(dp_client, {**SPATIAL, "epsilon": 0.7})
    for action in ("poll_query", "get_sql_for_query_result", "get_geo_sql_for_query_result"):
        reply = zmq_client.request(action, query_id=query_id)
        assert reply["status"] == "error"
        assert reply["payload"] == {"query_id": query_id, "query_state": "awol"}, reply
