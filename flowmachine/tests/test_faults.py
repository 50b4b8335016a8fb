"""Faults met by the FlowMachine server: a FlowDB backend terminated mid-query (a restart's effect on a client),
dead pooled connections, transient failures that outlast the retry budget, a dead process's statements, and a
Redis that lost its data or is down. Each query ends completed, or errored with a message and re-runnable."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import replace

import psycopg
import pytest
import redis
from psycopg import sql
from zmq_client import ZMQClient

from flowdb.testing import start_redis
from flowmachine.core.cache import compute
from flowmachine.core.context import APPLICATION_PREFIX, Context
from flowmachine.core.errors import QueryFailedError
from flowmachine.core.orphans import terminate_orphaned_backends
from flowmachine.core.query import Query
from flowmachine.core.state import QueryEvent, QueryState
from flowmachine.testing import server_in_thread


def dummy(delay: int = 0) -> dict:
    return {
        "query_kind": "dummy_query",
        "dummy_param": f"faults-{uuid.uuid4().hex[:10]}",
        "aggregation_unit": "admin3",
        "dummy_delay": delay,
    }


def submit(client: ZMQClient, spec: dict) -> str:
    reply = client.request("run_query", **spec)
    assert reply["status"] == "success", reply
    return reply["payload"]["query_id"]


def wait_until(predicate, what: str, timeout: float = 20):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
    return value


def executing_pid(ctx: Context, query_id: str) -> int | None:
    info = ctx.states.info(query_id)
    return info.pid if info.state is QueryState.EXECUTING else None


# FlowDB ---------------------------------------------------------------------------------------------------


def test_a_backend_terminated_mid_query_is_run_again(zmq_client, ctx, flowdb_cluster):
    """What a FlowDB restart does to a running statement ("terminating connection due to administrator
    command"): the query is tried again and completes."""
    query_id = submit(zmq_client, dummy(delay=2))
    pid = wait_until(lambda: executing_pid(ctx, query_id), "the query to execute")
    with flowdb_cluster.connect() as su:
        assert su.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0]
    reply = zmq_client.wait_for(query_id, timeout=30)
    assert reply["payload"]["query_state"] == "completed", reply


def test_dead_pooled_connections_are_replaced(zmq_client, fm_server_obj, flowdb_cluster):
    """Every idle connection of the server's pool closed by FlowDB: the next queries never see one, and
    skipping them costs no pause (a restart leaves all of them dead)."""
    pool = fm_server_obj.server.ctx.pool
    held = [pool.pool.getconn() for _ in range(pool.max_size)]  # the pool at its largest, all idle
    for conn in held:
        pool.pool.putconn(conn)
    name = APPLICATION_PREFIX + fm_server_obj.server.ctx.owner
    with flowdb_cluster.connect() as su:
        # pg_stat_activity shows a returned connection as idle a moment later (the pool resets it first)
        deadline = time.monotonic() + 10
        while (
            su.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND state = 'idle'",
                (name,),
            ).fetchone()[0]
            < pool.max_size
            and time.monotonic() < deadline
        ):
            time.sleep(0.05)
        killed = su.execute(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = %s AND state = 'idle'",
            (name,),
        ).fetchone()[0]
    assert killed == pool.max_size
    started = time.monotonic()
    assert zmq_client.request("get_available_dates")["status"] == "success"
    assert time.monotonic() - started < 2
    ids = [submit(zmq_client, dummy()) for _ in range(4)]
    for query_id in ids:
        assert zmq_client.wait_for(query_id)["payload"]["query_state"] == "completed"


class _Flaky(Query):
    """Fails `failures` times as if FlowDB were out of reach (a connection lost, no SQLSTATE), then runs."""

    def __init__(self, tag: str, failures: int) -> None:
        self.tag = tag
        self._failures = failures
        super().__init__()

    @property
    def column_names(self) -> list[str]:
        return ["x"]

    def _make_query(self, ctx: Context) -> sql.Composable:
        if self._failures > 0:
            self._failures -= 1
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        return sql.SQL("SELECT 1 AS x")


def test_transient_failures_are_tried_again_then_end_errored_and_retryable(fm_settings):
    with Context.open(replace(fm_settings, transient_retry_seconds=5)) as patient:
        query = _Flaky(uuid.uuid4().hex, failures=2)
        compute(patient, query)
        assert patient.states.state(query.query_id) is QueryState.COMPLETED

    with Context.open(replace(fm_settings, transient_retry_seconds=0)) as impatient:
        query = _Flaky(uuid.uuid4().hex, failures=1)
        with pytest.raises(QueryFailedError) as failed:
            compute(impatient, query)
        assert failed.value.retryable
        info = impatient.states.info(query.query_id)
        assert info.state is QueryState.ERRORED and info.retryable
        assert "out of reach" in (info.message or "")
        compute(impatient, query)  # computing it again resets it and runs it (it fails no more)
        assert impatient.states.state(query.query_id) is QueryState.COMPLETED


def _errored(server_ctx, spec: dict, *, retryable: bool) -> str:
    """Record `spec`'s query as errored (transiently or not) without running it."""
    query_id = server_ctx.load_spec(spec)._flowmachine_query_obj.query_id
    states = server_ctx.ctx.states
    states.trigger(query_id, QueryEvent.QUEUE, owner="someone")
    states.trigger(query_id, QueryEvent.ERROR, message="PoolTimeout: no", retryable=retryable)
    return query_id


def test_resubmitting_reruns_a_transient_failure_not_a_real_one(zmq_client, fm_server_obj):
    transient = dummy()
    query_id = _errored(fm_server_obj.server, transient, retryable=True)
    assert submit(zmq_client, transient) == query_id
    assert zmq_client.wait_for(query_id)["payload"]["query_state"] == "completed"

    real = dummy()
    query_id = _errored(fm_server_obj.server, real, retryable=False)
    submit(zmq_client, real)
    reply = zmq_client.wait_for(query_id)
    assert reply["payload"]["query_state"] == "errored"  # FlowKit's: an error stands until reset
    assert reply["msg"] == "PoolTimeout: no"


def test_one_connection_per_statement_is_enough(fm_settings, fixture_db):
    """DB_CONNECTION_POOL_SIZE=1 and no overflow: slower, but every query of a burst completes."""
    hours = {"start_hour": 4, "end_hour": 20}
    specs = [
        {
            "query_kind": "spatial_aggregate",
            "locations": {
                "query_kind": "modal_location",
                "locations": [
                    {
                        "query_kind": "daily_location",
                        "date": f"2016-03-0{day}",
                        "aggregation_unit": unit,
                        "method": "last",
                        "hours": hours,
                    }
                    for day in days
                ],
            },
        }
        for days in ([1, 2], [2, 3], [1, 3])
        for unit in ("admin1", "admin2")
    ]
    settings = replace(fm_settings, pool_size=1, pool_overflow=0)
    with server_in_thread(settings) as server, ZMQClient(server.settings.port) as client:
        assert server.server.ctx.pool.max_size == 2  # one statement computing, one for bookkeeping
        ids = [submit(client, spec) for spec in specs]
        states = [client.wait_for(qid, timeout=90)["payload"]["query_state"] for qid in ids]
    assert states == ["completed"] * len(specs)


# a dead process's statements -------------------------------------------------------------------------------


def test_the_statements_of_a_dead_process_are_terminated(ctx, fm_settings):
    dead, alive = uuid.uuid4().hex, uuid.uuid4().hex
    ctx.redis.set(ctx.states.lease_key(alive), "1", ex=60)
    outcomes: dict[str, str] = {}

    def sleep_as(token: str) -> None:
        conninfo = fm_settings.conninfo(application_name=APPLICATION_PREFIX + token)
        with psycopg.connect(conninfo, autocommit=True) as conn:
            try:
                conn.execute("SELECT pg_sleep(20)")
                outcomes[token] = "finished"
            except psycopg.Error as exc:
                outcomes[token] = type(exc).__name__

    threads = [threading.Thread(target=sleep_as, args=(t,)) for t in (dead, alive)]
    for thread in threads:
        thread.start()

    def sleeping() -> list[tuple[int, str]]:
        with ctx.pool.connection() as conn:
            return conn.execute(
                "SELECT pid, application_name FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%%' "
                "AND application_name = ANY(%s)",
                ([APPLICATION_PREFIX + dead, APPLICATION_PREFIX + alive],),
            ).fetchall()

    pids = dict(
        (name, pid) for pid, name in wait_until(lambda: len(sleeping()) == 2 and sleeping(), "both")
    )
    try:
        assert terminate_orphaned_backends(ctx) == [pids[APPLICATION_PREFIX + dead]]
        threads[0].join(10)
        assert outcomes[dead] == "AdminShutdown"
        assert alive not in outcomes  # a live process's statement runs on
    finally:
        with ctx.pool.connection() as conn:
            conn.execute("SELECT pg_cancel_backend(%s)", (pids[APPLICATION_PREFIX + alive],))
        for thread in threads:
            thread.join(10)
        ctx.redis.delete(ctx.states.lease_key(alive))


# Redis ----------------------------------------------------------------------------------------------------


@pytest.fixture
def own_redis(fm_scratch):
    """A Redis for one test (so flushing or stopping it touches no other test): (client, restart, stop)."""
    workdir = fm_scratch / f"redis-{uuid.uuid4().hex[:8]}"
    proc, port = start_redis(workdir)
    procs = [proc]

    def stop() -> None:
        procs[-1].terminate()
        procs[-1].wait(10)

    def restart() -> None:
        stop()
        procs.append(start_redis(workdir, port)[0])

    client = redis.Redis(host="127.0.0.1", port=port)
    try:
        yield port, client, stop, restart
    finally:
        client.close()
        stop()


def test_a_redis_that_lost_its_data_loses_no_query(fm_settings, fixture_db, own_redis):
    port, client, stop, restart = own_redis
    settings = replace(fm_settings, redis_port=port)
    with server_in_thread(settings) as server, ZMQClient(server.settings.port) as zmq:
        done_spec = dummy()
        done = submit(zmq, done_spec)
        assert zmq.wait_for(done)["payload"]["query_state"] == "completed"

        # flushed while nothing runs: the completed query answers as before
        client.flushall()
        reply = zmq.request("poll_query", query_id=done)
        assert reply["payload"]["query_state"] == "completed", reply
        assert (
            zmq.request("get_query_params", query_id=done)["payload"]["query_params"] == done_spec
        )

        # flushed while a query runs: it runs on (or again) and completes; polls never say unknown
        running = submit(zmq, dummy(delay=2))
        wait_until(lambda: executing_pid(server.server.ctx, running), "the query to execute")
        client.flushall()
        deadline = time.monotonic() + 30
        while (state := zmq.request("poll_query", query_id=running)["payload"]["query_state"]) in (
            "queued",
            "executing",
        ) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert state == "completed"

        # down: every action says so, in bounded time, as "unavailable" (FlowAPI: 503 with Retry-After)
        stop()
        started = time.monotonic()
        reply = zmq.request("poll_query", query_id=done)
        assert time.monotonic() - started < 15
        assert reply["status"] == "error"
        assert reply["payload"] == {"unavailable": "redis", "retry_after": 5}, reply
        assert "Redis" in reply["msg"]

        # back, empty: queries completed before answer at once, and new ones run
        restart()
        reply = wait_until(
            lambda: (r := zmq.request("poll_query", query_id=done))["status"] == "success" and r,
            "Redis to answer again",
        )
        assert reply["payload"]["query_state"] == "completed"
        fresh = submit(zmq, dummy())
        assert zmq.wait_for(fresh)["payload"]["query_state"] == "completed"

    # a server starting on an empty Redis puts back the specs of every cached result before any poll
    client.flushall()
    with server_in_thread(settings):
        assert client.exists(f"flowmachine:{server.server.ctx.conn_id}:spec:{done}")


def test_failure_messages_keep_internals_in_the_log(caplog):
    """What a client reads of a failure: data exceptions and our own errors say what happened; FlowDB's text
    about tables and SQL stays in the log, under a reference the message gives."""
    from psycopg import errors as pg_errors

    from flowmachine.core.errors import MissingDateError
    from flowmachine.core.transient import describe_failure

    assert describe_failure(pg_errors.DivisionByZero("division by zero")) == (
        "DivisionByZero: division by zero"
    )
    assert describe_failure(MissingDateError("no calls data")) == "MissingDateError: no calls data"
    internal = describe_failure(pg_errors.UndefinedTable('relation "cache.x0123" does not exist'))
    assert "cache.x0123" not in internal and "reference" in internal
    reference = internal.split("reference ")[1].split()[0]
    assert any(reference in r.message and "cache.x0123" in r.message for r in caplog.records)


def test_a_spec_redis_has_is_always_in_flowdb_too(ctx):
    """`save_spec` writes FlowDB first: if FlowDB is out of reach the call fails and Redis does not have
    the spec either, so a later try writes both (a spec only in Redis would be lost with Redis)."""
    from flowmachine.core.server.query_records import QueryRecords

    class Unreachable:
        def connection(self):
            raise psycopg.OperationalError("connection refused")

    query_id = uuid.uuid4().hex
    with pytest.raises(psycopg.OperationalError):
        QueryRecords(ctx.states, Unreachable()).save_spec(query_id, {"query_kind": "x"})
    records = QueryRecords(ctx.states, ctx.pool)
    assert records.spec(query_id) is None
    records.save_spec(query_id, {"query_kind": "x"})
    ctx.redis.delete(records._spec_key(query_id))  # Redis loses it
    assert records.restore(query_id) == {"query_kind": "x"}
