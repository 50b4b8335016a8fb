"""Resilience of the real processes:

(a) the FlowMachine server is SIGKILLed while a query runs, then restarted: FlowAPI answers while it is down
    (503 in FlowKit's JSON, no hang), the restarted server resumes the killed one's run and the query
    completes, and another query runs end to end;
(b) two FlowMachine servers share one Redis and one FlowDB: the same spec gets the same id from both, it is
    computed once, both report the same states and results.
"""

from __future__ import annotations

import time
import uuid

import httpx

import flowclient as fc
from flowclient import aggregates as ag
from flowdb.testing import connect_as
from integration_helpers import Stack, poll_response, wait_ready, wait_until, zmq_request

STATE_ORDER = {"queued": 0, "executing": 1, "completed": 2}


def sleeping_backends(stack: Stack, query_id: str) -> int:
    """FlowDB backends now computing cache.x<query_id>."""
    with stack.cluster.connect() as su:
        return su.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE %s "
            "AND pid <> pg_backend_pid()",
            (f"%x{query_id}%",),
        ).fetchone()[0]


def test_flowmachine_killed_mid_query_then_restarted(stack: Stack, conn, universal_token) -> None:
    spec = ag.dummy_query_spec(
        dummy_param=f"killed-{uuid.uuid4().hex[:8]}", aggregation_unit="admin3", dummy_delay=6
    )
    query_id = fc.run_query(connection=conn, query_spec=spec)
    wait_until(
        lambda: fc.get_status(connection=conn, query_id=query_id) == "executing",
        20,
        "the query to execute",
    )
    killed_pid = stack.flowmachine.pid
    try:
        stack.flowmachine.kill()  # SIGKILL to the process we started, mid-query

        # FlowMachine is gone: FlowAPI answers in bounded time, in JSON
        started = time.monotonic()
        down = poll_response(stack, universal_token, query_id)
        assert time.monotonic() - started < 25
        assert down.status_code == 503, down.text
        assert down.json()["status"] == "error" and "FlowMachine" in down.json()["msg"]
    finally:
        stack.flowmachine.start()  # same port, same settings: FlowAPI is not told anything
    assert stack.flowmachine.pid != killed_pid

    # the restarted server resumes the run the killed one had taken (once its lease lapses): the query
    # completes, and FlowAPI never answers anything but 202 on the way (no 404 that would make a client re-run)
    seen: list[tuple[int, dict]] = []

    def settled() -> httpx.Response | None:
        response = poll_response(stack, universal_token, query_id)
        body = response.json()
        seen.append((response.status_code, body))
        if response.status_code == 202:
            assert body["status"] in {"queued", "executing"}, body
            return None
        return response

    final = wait_until(settled, 60, f"query {query_id} to settle after the restart", interval=0.5)
    assert final.status_code == 303, seen[-5:]
    assert final.json() == {"status": "completed"}
    assert (
        fc.run_query(connection=conn, query_spec=spec) == query_id
    )  # the same query, already there
    # dummy_query's result has no columns (flowclient makes it an empty DataFrame)
    fc.get_result_by_query_id(connection=conn, query_id=query_id, disable_progress=True)
    # ... and a real query runs end to end on the restarted server
    other = ag.unique_subscriber_counts_spec(
        start_date="2016-03-04", end_date="2016-03-05", aggregation_unit="admin2"
    )
    result = fc.get_result(connection=conn, query_spec=other, disable_progress=True)
    assert list(result.columns) == ["pcod", "value"] and len(result) > 0
    print(f"after the restart: {[status for status, _ in seen]}")


def test_two_flowmachine_servers_share_state(stack: Stack, conn) -> None:
    a_port = stack.flowmachine.port
    b = stack.new_flowmachine("flowmachine-b")
    try:
        # 1. one slow query sent to both at once: one id, one computation, consistent states
        spec = ag.dummy_query_spec(
            dummy_param=f"shared-{uuid.uuid4().hex[:8]}", aggregation_unit="admin3", dummy_delay=4
        )
        via_api = fc.run_query(connection=conn, query_spec=spec)  # FlowAPI → server A
        via_b = zmq_request(b.port, "run_query", spec)
        assert via_b["status"] == "success", via_b
        query_id = via_b["payload"]["query_id"]
        assert query_id == via_api

        states: dict[str, list[str]] = {"a": [], "b": []}
        most_backends = 0
        deadline = time.monotonic() + 60
        while True:
            for name, port in (("a", a_port), ("b", b.port)):
                reply = zmq_request(port, "poll_query", {"query_id": query_id})
                assert reply["status"] == "success", reply
                assert reply["payload"]["query_kind"] == "dummy_query"
                states[name].append(reply["payload"]["query_state"])
            most_backends = max(most_backends, sleeping_backends(stack, query_id))
            if states["a"][-1] == states["b"][-1] == "completed":
                break
            assert time.monotonic() < deadline, f"not completed in 60 s: {states}"
            time.sleep(0.2)
        assert most_backends == 1, "both servers computed the query"
        for name, seq in states.items():
            assert set(seq) <= set(STATE_ORDER), (name, seq)
            ranks = [STATE_ORDER[s] for s in seq]
            assert ranks == sorted(ranks), f"server {name} saw states go backwards: {seq}"
        assert "executing" in states["a"] + states["b"]
        with stack.cluster.connect() as su:
            stored = su.execute(
                "SELECT count(*) FROM cache.cached WHERE query_id = %s", (query_id,)
            ).fetchone()[0]
        assert stored == 1

        # 2. a real query started on B is known to A (FlowAPI) and both give the same result
        real = ag.spatial_aggregate_spec(
            locations=fc.daily_location_spec(
                date="2016-03-05", aggregation_unit="admin2", method="most-common"
            )
        )
        started = zmq_request(b.port, "run_query", real)
        assert started["status"] == "success", started
        real_id = started["payload"]["query_id"]
        wait_ready(conn, real_id, timeout=90)  # polled through FlowAPI, i.e. server A
        assert fc.run_query(connection=conn, query_spec=real) == real_id
        from_api = fc.get_result_by_query_id(connection=conn, query_id=real_id,
                                             disable_progress=True)  # fmt: skip
        sqls = {
            name: zmq_request(port, "get_sql_for_query_result", {"query_id": real_id})
            for name, port in (("a", a_port), ("b", b.port))
        }
        assert sqls["a"] == sqls["b"] or (
            sqls["a"]["payload"]["sql"] == sqls["b"]["payload"]["sql"]
        ), sqls
        with connect_as(stack.cluster, stack.cluster.settings.flowapi_user) as db:
            rows = db.execute(sqls["b"]["payload"]["sql"]).fetchall()
        assert len(rows) == len(from_api) > 0
        params = [
            zmq_request(port, "get_query_params", {"query_id": real_id})["payload"]
            for port in (a_port, b.port)
        ]
        assert params[0] == params[1]
    finally:
        b.stop()
