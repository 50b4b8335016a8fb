"""Load and faults through the whole stack (FlowAPI, the flowclient package, real processes): never stuck, never
starved, never fooled.

1. A burst on default pool settings (DB_CONNECTION_POOL_SIZE 5, overflow 1): FlowKit's "flows above normal"
   worked example (three spatial aggregates of modal locations, two flows between them) and twenty distinct
   multi-day spatial aggregates sharing daily locations, all at once on a cold cache: every one completes, at
   most five statements compute at once and FlowMachine holds at most six FlowDB connections, and results equal
   an independent computation.
2. FlowMachine SIGKILLed with queries in flight, restarted: every query completes with the right result, and the
   killed process's statements in FlowDB are terminated before they would have ended by themselves.
3. Redis SIGKILLed with queries in flight and some completed, restarted empty: meanwhile polls answer 503 with
   Retry-After; afterwards every completed query still polls 303 and its result is served, in-flight ones end
   completed (or errored with a message, and then re-run on re-submission), and re-running works.
4. FlowDB restarted (fast shutdown: its connections terminated) with queries in flight: each ends completed or
   errored with a message and re-runnable; ten queries after the restart all succeed.

In 2-4, five slow statements (dummy queries sleeping in FlowDB) hold every compute slot when the fault comes, so
the real queries behind them are surely in flight (queued) however fast the fixture data computes.

Each test uses `hours` windows no other test uses, so its queries and their dependencies are cold, and restores
the services it stopped in `finally`. Reference results are computed by FlowMachine's library from the events
alone (a private, empty Redis, so nothing cached is read), on a connection of our own.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pandas as pd
import pytest
import zmq

import flowclient as fc
from flowclient import aggregates as ag
from flowdb.testing import connect_as, private_redis
from flowmachine.core.context import Context
from flowmachine.core.server.query_schemas.flowmachine_query import FlowmachineQuerySchema
from flowmachine.testing import settings_for
from integration_helpers import Stack, poll_response, wait_until, zmq_request

DAYS = [f"2016-03-0{d}" for d in range(1, 6)]
RECOVERY = 60  # seconds every query has to settle once the fault is over
APP_PREFIX = "flowmachine:"  # FlowMachine names its FlowDB connections flowmachine:<owner token>
POOL_SIZE, POOL_OVERFLOW = 5, 1  # FlowMachine's defaults (the stack sets neither)


# specs -------------------------------------------------------------------------------------------------------


def daily(date: str, unit: str, hours: tuple[int, int]) -> dict:
    return fc.daily_location_spec(date=date, aggregation_unit=unit, method="last", hours=hours)


def modal(days: list[str], unit: str, hours: tuple[int, int]) -> dict:
    return fc.modal_location_spec(locations=[daily(d, unit, hours) for d in days])


def spatial(days: list[str], unit: str, hours: tuple[int, int]) -> dict:
    return ag.spatial_aggregate_spec(locations=modal(days, unit, hours))


def flows_above_normal(hours: tuple[int, int]) -> list[dict]:
    """FlowKit's worked example: benchmark, comparison and focal periods' modal locations aggregated, and the
    flows from the benchmark to the other two."""
    benchmark, comparison, focal = (
        modal(DAYS[:3], "admin3", hours),
        modal(DAYS[2:4], "admin3", hours),
        modal(DAYS[3:], "admin3", hours),
    )
    return [
        ag.spatial_aggregate_spec(locations=benchmark),
        ag.spatial_aggregate_spec(locations=comparison),
        ag.spatial_aggregate_spec(locations=focal),
        ag.flows_spec(from_location=benchmark, to_location=comparison),
        ag.flows_spec(from_location=benchmark, to_location=focal),
    ]


def overlapping_windows(hours: tuple[int, int], units: tuple[str, ...]) -> list[dict]:
    """Spatial aggregates of modal locations over every window of two or more of the five days: windows overlap,
    so the queries share daily locations."""
    windows = [DAYS[i:j] for i, j in itertools.combinations(range(6), 2) if j - i >= 2]
    return [spatial(days, unit, hours) for days, unit in itertools.product(windows, units)]


def slow_dummy(tag: str, delay: int) -> dict:
    return ag.dummy_query_spec(
        dummy_param=f"{tag}-{uuid.uuid4().hex[:8]}", aggregation_unit="admin3", dummy_delay=delay
    )


# reference results ---------------------------------------------------------------------------------------------


@contextmanager
def reference(stack: Stack) -> Iterator[Any]:
    """`rows(spec)`: the spec's result computed by FlowMachine's library from the events (its SQL composed against
    a private, empty Redis, so every dependency is inlined, not read from the cache) and run on a connection
    of our own as the flowmachine role; with the query id, which must be the one FlowAPI gave."""
    with (
        private_redis(stack.root / f"reference-redis-{uuid.uuid4().hex[:6]}") as port,
        Context.open(settings_for(stack.cluster, port), repair=False) as ctx,
        connect_as(stack.cluster, "flowmachine") as conn,
    ):

        def rows(spec: dict) -> tuple[str, list[str], list[tuple]]:
            query = FlowmachineQuerySchema().load(spec)._flowmachine_query_obj
            text = query._select(ctx).as_string(conn)
            return query.query_id, query.column_names, normalise(conn.execute(text).fetchall())

        yield rows


def normalise(rows: Any) -> list[tuple]:
    def value(v: Any) -> Any:
        if v is None or isinstance(v, str):
            return v
        try:
            return round(float(v), 6)
        except (TypeError, ValueError):
            return str(v)

    return sorted((tuple(value(v) for v in row) for row in rows), key=repr)


def api_rows(frame: pd.DataFrame, columns: list[str]) -> list[tuple]:
    assert list(frame.columns) == columns, (list(frame.columns), columns)
    return normalise(frame[columns].itertuples(index=False, name=None))


def assert_results_match(stack: Stack, conn: fc.Connection, outcomes: list[Outcome]) -> None:
    with reference(stack) as rows:
        for outcome in outcomes:
            query_id, columns, expected = rows(outcome.spec)
            assert query_id == outcome.query_id
            assert expected, (
                f"{outcome.spec}: the reference has no rows (a test with nothing to compare)"
            )
            got = fc.get_result_by_query_id(
                connection=conn, query_id=query_id, disable_progress=True
            )
            assert api_rows(got, columns) == expected, f"query {query_id}: wrong result"


# running queries ---------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    spec: dict
    query_id: str = ""
    state: str = "pending"  # completed | errored | failed
    message: str = ""
    seconds: float = 0.0
    polls: list[int] = field(default_factory=list)  # the status codes of the polls


def burst(stack: Stack, token: str, specs: list[dict], timeout: float) -> list[Outcome]:
    """Every spec from its own flowclient connection and thread at once: run, poll until ready (bounded), fetch
    the result. Failures are recorded, not raised."""
    outcomes = [Outcome(spec) for spec in specs]
    barrier = threading.Barrier(len(specs))

    def one(outcome: Outcome) -> None:
        conn = stack.connect(token)
        try:
            barrier.wait(timeout=30)
            started = time.monotonic()
            outcome.query_id = fc.run_query(connection=conn, query_spec=outcome.spec)
            deadline = started + timeout
            while True:
                ready, response = fc.query_is_ready(connection=conn, query_id=outcome.query_id)
                outcome.polls.append(response.status_code)
                if ready:
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"not ready after {timeout} s: {response.json()}")
                time.sleep(0.25)
            fc.get_result_by_query_id(
                connection=conn, query_id=outcome.query_id, disable_progress=True
            )
            outcome.seconds = time.monotonic() - started
            outcome.state = "completed"
        except Exception as exc:  # recorded for the assertion
            outcome.state, outcome.message = "failed", f"{type(exc).__name__}: {exc}"
        finally:
            conn.close()

    threads = [threading.Thread(target=one, args=(o,), daemon=True) for o in outcomes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout + 60)
    return outcomes


def submit(conn: fc.Connection, specs: list[dict]) -> list[Outcome]:
    return [Outcome(spec, fc.run_query(connection=conn, query_spec=spec)) for spec in specs]


def settle(stack: Stack, token: str, outcomes: list[Outcome], timeout: float = RECOVERY) -> None:
    """Poll each query through FlowAPI until it is completed (303) or errored (500 with a message); 202 and
    503 (a service still out of reach) are waited through; anything else, or no end in `timeout` s, fails."""
    deadline = time.monotonic() + timeout
    pending = [o for o in outcomes if o.state not in ("completed", "errored")]
    while pending:
        for outcome in list(pending):
            response = poll_response(stack, token, outcome.query_id)
            outcome.polls.append(response.status_code)
            if response.status_code == 303:
                outcome.state = "completed"
            elif response.status_code == 500 and response.json().get("status") == "errored":
                outcome.state, outcome.message = "errored", response.json().get("msg", "")
            elif response.status_code not in (202, 503):
                raise AssertionError(
                    f"query {outcome.query_id}: poll answered {response.status_code} {response.text}"
                )
            if outcome.state in ("completed", "errored"):
                pending.remove(outcome)
        if pending and time.monotonic() > deadline:
            raise AssertionError(
                f"{len(pending)} queries not settled {timeout} s after recovery: "
                f"{[(o.query_id, o.polls[-3:]) for o in pending]}"
            )
        time.sleep(0.3)


def slow_then_real(
    stack: Stack, conn: fc.Connection, token: str, tag: str, delay: int, real: list[dict]
) -> list[Outcome]:
    """POOL_SIZE slow statements (dummy queries sleeping `delay` s in FlowDB), then the `real` specs: once
    the slow ones are executing in FlowDB they hold every compute slot and run thread, so the real queries
    are surely in flight (queued) when the fault comes. The slow ones first in the list returned."""
    outcomes = submit(conn, [*(slow_dummy(tag, delay) for _ in range(POOL_SIZE)), *real])
    slow = [o.query_id for o in outcomes[:POOL_SIZE]]
    wait_until(
        lambda: len(backends(stack, slow)) == POOL_SIZE, 30, "the slow statements", interval=0.05
    )
    states = [poll_response(stack, token, o.query_id).status_code for o in outcomes[POOL_SIZE:]]
    assert states == [202] * len(real), f"real queries not in flight: {states}"
    return outcomes


def post_run(stack: Stack, token: str, spec: dict) -> httpx.Response:
    """POST /api/0/run as a raw response."""
    return httpx.post(
        f"{stack.flowapi_url}/api/0/run",
        json=spec,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )


def summary(outcomes: list[Outcome]) -> list[tuple[str, str, list[int]]]:
    """Per query: its end, its message, and the distinct poll answers on the way (in order)."""
    return [(o.state, o.message, list(dict.fromkeys(o.polls))) for o in outcomes]


def rerun_errored(stack: Stack, conn: fc.Connection, token: str, outcomes: list[Outcome]) -> None:
    """An errored query says why, and submitting it again runs it again to completion."""
    errored = [o for o in outcomes if o.state == "errored"]
    for outcome in errored:
        assert outcome.message, f"query {outcome.query_id} errored without saying why"
        assert fc.run_query(connection=conn, query_spec=outcome.spec) == outcome.query_id
        outcome.state = "pending"
    settle(stack, token, errored)
    for outcome in errored:
        assert outcome.state == "completed", (outcome.query_id, outcome.message)
    if errored:
        print(f"re-ran {len(errored)} errored queries: {[o.message for o in errored]}")


# FlowDB observations -----------------------------------------------------------------------------------------


def backends(stack: Stack, query_ids: list[str]) -> list[tuple[int, str, float]]:
    """(pid, application name, seconds since its statement started) of FlowDB backends running a statement
    for one of `query_ids` (its cache table x<id> in the text)."""
    with stack.cluster.connect() as su:
        return su.execute(
            """SELECT pid, application_name, extract(epoch FROM now() - query_start)::float8
               FROM pg_stat_activity
               WHERE state = 'active' AND pid <> pg_backend_pid()
                 AND query ~ ('x(' || array_to_string(%s::text[], '|') || ')')""",
            (query_ids,),
        ).fetchall()


class ConnectionSampler:
    """Samples FlowDB every 50 ms while running: per FlowMachine process (application name), the most
    connections and the most statements computing a query (CREATE TABLE) seen at once (client backends: a
    parallel query's workers carry their leader's application name)."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.most_connections: dict[str, int] = {}
        self.most_computing: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with self.stack.cluster.connect() as su:
            while not self._stop.is_set():
                for name, connections, computing in su.execute(
                    """SELECT application_name, count(*),
                              count(*) FILTER (WHERE state = 'active' AND query ILIKE 'CREATE TABLE%%')
                       FROM pg_stat_activity
                       WHERE starts_with(application_name, %s) AND backend_type = 'client backend'
                       GROUP BY application_name""",
                    (APP_PREFIX,),
                ).fetchall():
                    self.most_connections[name] = max(
                        self.most_connections.get(name, 0), connections
                    )
                    self.most_computing[name] = max(self.most_computing.get(name, 0), computing)
                time.sleep(0.05)

    def __enter__(self) -> ConnectionSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


# 1. load ---------------------------------------------------------------------------------------------------


def test_a_cold_burst_on_default_pool_settings_completes(
    stack: Stack, conn, universal_token
) -> None:
    """The worked example and twenty distinct multi-day queries sharing daily locations, 25 clients at once."""
    example = flows_above_normal(hours=(1, 23))
    windows = overlapping_windows(hours=(2, 22), units=("admin2", "admin3"))
    assert len(windows) == 20
    specs = example + windows
    started = time.monotonic()
    with ConnectionSampler(stack) as sampler:
        outcomes = burst(stack, universal_token, specs, timeout=150)
    wall = time.monotonic() - started
    bad = [
        (o.spec.get("query_kind"), o.query_id, o.message)
        for o in outcomes
        if o.state != "completed"
    ]
    assert not bad, bad
    assert len({o.query_id for o in outcomes}) == len(specs)
    seconds = sorted(o.seconds for o in outcomes)
    print(
        f"burst of {len(specs)}: {wall:.1f} s, submit→result p50 {seconds[len(seconds) // 2]:.1f} s, "
        f"max {seconds[-1]:.1f} s; most FlowDB connections {sampler.most_connections}, "
        f"most computing {sampler.most_computing}"
    )
    # pool discipline, seen from FlowDB: at most POOL_SIZE statements compute at once, and the pool's bound
    assert sampler.most_computing, "no statement was seen computing"
    assert max(sampler.most_computing.values()) <= POOL_SIZE, sampler.most_computing
    assert max(sampler.most_connections.values()) <= POOL_SIZE + POOL_OVERFLOW, (
        sampler.most_connections
    )
    # the worked example and three of the windows equal an independent computation
    assert_results_match(stack, conn, outcomes[:5] + outcomes[5::7])


# 2. FlowMachine killed ---------------------------------------------------------------------------------------


def test_flowmachine_killed_mid_burst_is_recovered(stack: Stack, conn, universal_token) -> None:
    """kill -9 with slow statements running and real queries queued behind them; restart: all complete with
    the right results, and the killed process's statements are terminated, not left to run on."""
    delay = 12
    real = overlapping_windows(hours=(3, 21), units=("admin1",))[:8]
    outcomes = slow_then_real(stack, conn, universal_token, "fm-killed", delay, real)
    ids = [o.query_id for o in outcomes]
    # the name of the process running the statements
    running = backends(stack, ids)
    names = {name for _, name, _ in running}
    assert len(names) == 1 and next(iter(names)).startswith(APP_PREFIX), running
    dead_name = names.pop()
    killed_pid = stack.flowmachine.pid
    try:
        stack.flowmachine.kill()
    finally:
        stack.flowmachine.start()
    recovered = time.monotonic()
    assert stack.flowmachine.pid != killed_pid

    # the killed process's statements end long before the slow one would have ended by itself
    def dead_backends() -> list[tuple[int, str, float]]:
        with stack.cluster.connect() as su:
            return su.execute(
                "SELECT pid, state, extract(epoch FROM now() - query_start)::float8 "
                "FROM pg_stat_activity WHERE application_name = %s",
                (dead_name,),
            ).fetchall()

    def gone() -> bool:
        poll_response(
            stack, universal_token, ids[0]
        )  # a poll resumes an abandoned run (and stops orphans)
        left = dead_backends()
        ran_on = [b for b in left if b[1] == "active" and b[2] > delay - 1]
        assert not ran_on, f"a statement of the killed process ran on to its end: {ran_on}"
        return not left

    wait_until(gone, delay, f"the statements of {dead_name} to be terminated", interval=0.2)
    print(f"orphans of {dead_name} gone {time.monotonic() - recovered:.1f} s after the restart")

    settle(stack, universal_token, outcomes)
    assert [o.state for o in outcomes] == ["completed"] * len(outcomes), [
        (o.query_id, o.state, o.message) for o in outcomes
    ]
    assert time.monotonic() - recovered < RECOVERY
    assert_results_match(stack, conn, outcomes[POOL_SIZE:])
    assert not dead_backends()


# 3. Redis killed ---------------------------------------------------------------------------------------------


def test_redis_killed_and_restarted_empty(stack: Stack, conn, universal_token) -> None:
    done = submit(conn, overlapping_windows(hours=(4, 20), units=("admin1",))[:3])
    settle(stack, universal_token, done)
    assert [o.state for o in done] == ["completed"] * 3
    before = {
        o.query_id: fc.get_result_by_query_id(
            connection=conn, query_id=o.query_id, disable_progress=True
        )
        for o in done
    }
    real = overlapping_windows((5, 19), ("admin1",))[:4]
    in_flight = slow_then_real(stack, conn, universal_token, "redis-killed", 4, real)
    try:
        stack.kill_redis()
        # FlowMachine cannot reach its state store: FlowAPI says so, 503 with Retry-After, never a 500
        # (polls of a completed and of an in-flight query, and a new run, side by side)
        started = time.monotonic()
        with ThreadPoolExecutor(3) as pool:
            outage = list(
                pool.map(
                    lambda ask: ask(),
                    [
                        lambda: poll_response(stack, universal_token, done[0].query_id),
                        lambda: poll_response(stack, universal_token, in_flight[-1].query_id),
                        lambda: post_run(
                            stack, universal_token, spatial(DAYS[:2], "admin2", (5, 19))
                        ),
                    ],
                )
            )
        answered_in = time.monotonic() - started
    finally:
        stack.start_redis()
    recovered = time.monotonic()
    for response in outage:
        assert response.status_code == 503, (response.status_code, response.text)
        assert int(response.headers["Retry-After"]) >= 1, response.headers
        body = response.json()
        assert body["status"] == "error" and body["msg"], body
        # FlowMachine says what is out of reach, well within FlowAPI's ZeroMQ timeout (10 s here)
        assert body["payload"]["unavailable"] == "redis", body
    assert answered_in < 10, f"FlowAPI took {answered_in:.1f} s to answer during the outage"
    print(f"during the outage, answered in {answered_in:.1f} s: {outage[0].json()}")

    # every completed query still polls 303, and its result is served as before
    for outcome in done:
        response = poll_response(stack, universal_token, outcome.query_id)
        assert response.status_code == 303, (outcome.query_id, response.status_code, response.text)
        again = fc.get_result_by_query_id(
            connection=conn, query_id=outcome.query_id, disable_progress=True
        )
        pd.testing.assert_frame_equal(
            again.sort_values(list(again.columns)).reset_index(drop=True),
            before[outcome.query_id].sort_values(list(again.columns)).reset_index(drop=True),
        )
        # ... and running it again finds it done
        assert fc.run_query(connection=conn, query_spec=outcome.spec) == outcome.query_id
        assert poll_response(stack, universal_token, outcome.query_id).status_code == 303
    # in-flight ones complete, or end errored with a message and run again when re-submitted
    settle(stack, universal_token, in_flight)
    print(f"after the restart: {summary(in_flight)}")
    rerun_errored(stack, conn, universal_token, in_flight)
    assert time.monotonic() - recovered < RECOVERY
    assert_results_match(stack, conn, in_flight[POOL_SIZE:])
    # a new query runs end to end
    fresh = spatial(DAYS[1:3], "admin2", (4, 20))
    result = fc.get_result(connection=conn, query_spec=fresh, disable_progress=True)
    assert len(result) > 0


# 4. FlowDB restarted -----------------------------------------------------------------------------------------


def test_flowdb_restarted_mid_query(stack: Stack, conn, universal_token) -> None:
    real = overlapping_windows((6, 18), ("admin1",))[:5]
    in_flight = slow_then_real(stack, conn, universal_token, "flowdb-restart", 6, real)
    outage: list[httpx.Response] = []
    try:
        stack.cluster.stop()  # pg_ctl -m fast: every connection terminated
        # meanwhile a poll answers from Redis (202), or 503
        for outcome in (in_flight[0], in_flight[-1]):
            during = poll_response(stack, universal_token, outcome.query_id)
            assert during.status_code in (202, 503), (during.status_code, during.text)
        # a new query: 503 with Retry-After (FlowMachine cannot keep its spec in FlowDB), never a 500
        started = time.monotonic()
        outage.append(post_run(stack, universal_token, spatial(DAYS[:2], "admin2", (6, 18))))
        assert time.monotonic() - started < 15
    finally:
        stack.cluster.start()
    recovered = time.monotonic()
    for response in outage:
        assert response.status_code == 503, (response.status_code, response.text)
        assert int(response.headers["Retry-After"]) >= 1, response.headers
    print(f"during the outage: {[(r.status_code, r.json()) for r in outage]}")

    settle(stack, universal_token, in_flight)
    print(f"after the restart: {summary(in_flight)}")
    rerun_errored(stack, conn, universal_token, in_flight)
    assert time.monotonic() - recovered < RECOVERY
    assert_results_match(stack, conn, in_flight[POOL_SIZE:])

    # ten new queries after the restart: none meets a dead pooled connection (FlowMachine's or FlowAPI's)
    after = [spatial([day], unit, (7, 17)) for day in DAYS for unit in ("admin1", "admin2")]
    outcomes = burst(stack, universal_token, after, timeout=RECOVERY)
    bad = [(o.query_id, o.message) for o in outcomes if o.state != "completed"]
    assert not bad, bad


@pytest.fixture(autouse=True)
def _healthy_after(stack: Stack) -> Iterator[None]:
    """Whatever a test did, the stack is whole again before the next one (other modules share it)."""
    yield
    if not stack.cluster.status().running:
        stack.cluster.start()
    stack.start_redis()
    if not stack.flowmachine.alive():
        stack.flowmachine.start()
    # FlowMachine answers again through FlowAPI
    wait_until(
        lambda: (
            httpx.get(f"{stack.flowapi_url}/api/0/spec/openapi.json", timeout=15).status_code == 200
        ),
        60,
        "FlowAPI to answer",
    )


def test_flowdb_down_is_answered_unavailable_promptly(stack: Stack) -> None:
    """While FlowDB is down, an action that needs it is answered `unavailable: flowdb` within FlowAPI's
    ZeroMQ timeout (10 s here), so FlowAPI's 503 says what is out of reach."""
    spec = spatial(DAYS[3:], "admin2", (8, 16))
    try:
        stack.cluster.stop()
        started = time.monotonic()
        try:
            reply = zmq_request(stack.flowmachine.port, "run_query", spec, timeout=10)
        except zmq.Again:
            reply = {"no reply": f"within {time.monotonic() - started:.0f} s"}
    finally:
        stack.cluster.start()
    assert reply.get("payload") == {"unavailable": "flowdb", "retry_after": 5}, reply
