"""Many queries at once on default settings (pool of 5 + 1 connections): every one completes, none waits for a
connection it cannot get, and a query that failed for a transient reason runs again when re-submitted.

The specs use `hours` windows no other test uses, so their dependencies are cold in this session's cache.
"""

from __future__ import annotations

import itertools
import threading
import time

from zmq_client import ZMQClient

GEN_DAYS = [f"2016-03-0{d}" for d in range(1, 6)]


def daily(date: str, unit: str, hours: tuple[int, int], method: str = "last") -> dict:
    return {
        "query_kind": "daily_location",
        "date": date,
        "aggregation_unit": unit,
        "method": method,
        "hours": {"start_hour": hours[0], "end_hour": hours[1]},
    }


def modal(days: list[str], unit: str, hours: tuple[int, int]) -> dict:
    return {
        "query_kind": "modal_location",
        "locations": [daily(d, unit, hours) for d in days],
    }


def run_all(port: int, specs: list[dict], timeout: float = 120) -> dict[str, dict]:
    """Submit every spec from its own client thread at once; poll each until it is neither queued nor
    executing; the last poll reply of each, by query id."""
    replies: dict[str, dict] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(len(specs))

    def one(spec: dict) -> None:
        try:
            with ZMQClient(port, timeout_ms=60_000) as client:
                start.wait()
                reply = client.request("run_query", **spec)
                assert reply["status"] == "success", reply
                query_id = reply["payload"]["query_id"]
                replies[query_id] = client.wait_for(query_id, timeout=timeout)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(spec,)) for spec in specs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout + 60)
    assert not errors, errors
    return replies


def assert_all_completed(replies: dict[str, dict]) -> None:
    bad = {
        qid: (r["payload"]["query_state"], r["msg"])
        for qid, r in replies.items()
        if r["payload"]["query_state"] != "completed"
    }
    assert not bad, bad


def test_the_flows_above_normal_worked_example_on_a_cold_cache(fm_server, fixture_db):
    """FlowKit's worked example: three spatial aggregates of modal locations and two flows between them,
    submitted back to back."""
    hours = (2, 22)
    benchmark = modal(GEN_DAYS[:3], "admin3", hours)
    comparison = modal(GEN_DAYS[2:4], "admin3", hours)
    focal = modal(GEN_DAYS[3:], "admin3", hours)
    specs = [
        {"query_kind": "spatial_aggregate", "locations": benchmark},
        {"query_kind": "spatial_aggregate", "locations": comparison},
        {"query_kind": "spatial_aggregate", "locations": focal},
        {"query_kind": "flows", "from_location": benchmark, "to_location": comparison},
        {"query_kind": "flows", "from_location": benchmark, "to_location": focal},
    ]
    assert_all_completed(run_all(fm_server, specs))


def test_thirty_distinct_multi_day_queries_with_shared_dependencies(fm_server, fixture_db):
    """Thirty spatial aggregates of modal locations over overlapping windows (so they share daily locations),
    all at once: five times as many as the pool has connections."""
    hours = (3, 21)
    windows = [GEN_DAYS[i:j] for i, j in itertools.combinations(range(6), 2) if j - i >= 2]
    specs = [
        {"query_kind": "spatial_aggregate", "locations": modal(days, unit, hours)}
        for days, unit in itertools.product(windows, ["admin1", "admin2", "admin3"])
    ]
    assert len(specs) == 30
    started = time.monotonic()
    assert_all_completed(run_all(fm_server, specs))
    assert time.monotonic() - started < 120
