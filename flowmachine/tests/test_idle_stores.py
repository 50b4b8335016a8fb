"""IdleStores: dependencies of answered queries are stored only while the server is idle, deepest first."""

from __future__ import annotations

import threading
import time

from psycopg import sql

from flowmachine.core.query import Query
from flowmachine.core.server.idle_stores import IdleStores


class _Rows(Query):
    def __init__(self, value, below=None):
        self.value = value
        self.below = below
        super().__init__()

    @property
    def column_names(self):
        return ["v"]

    def _make_query(self, ctx):
        if self.below is None:
            return sql.SQL("SELECT {} / {}::int AS v").format(
                sql.Literal(self.value), sql.Literal(0 if self.value == "fail" else 1)
            )
        return sql.SQL("SELECT v + {} AS v FROM ({}) b").format(
            sql.Literal(self.value), self.below.get_query(ctx)
        )


def _wait(predicate, timeout=20):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_stores_wait_for_idle_then_go_deepest_first(ctx):
    stamp = time.time_ns() % 10**9
    bottom = _Rows(stamp)
    middle = _Rows(1, bottom)
    top = _Rows(2, middle)
    busy = threading.Event()
    busy.set()
    stores = IdleStores(ctx, busy=busy.is_set)
    try:
        stores.add(top)
        time.sleep(0.5)
        assert not bottom.is_stored(ctx) and not middle.is_stored(ctx)  # the server is busy
        assert not stores.idle()
        busy.clear()
        stores.nudge()
        _wait(stores.idle)
        assert bottom.is_stored(ctx) and middle.is_stored(ctx)
        assert not top.is_stored(ctx)  # the answer itself is not the idle stores' job
        with ctx.pool.connection() as conn:
            (v,) = conn.execute(f"SELECT v FROM cache.x{middle.query_id}").fetchone()
        assert v == stamp + 1
    finally:
        stores.stop()


def test_a_failing_dependency_is_skipped_and_the_thread_goes_on(ctx):
    stamp = time.time_ns() % 10**9
    failing = _Rows(1, _Rows("fail"))
    fine = _Rows(1, _Rows(stamp))
    stores = IdleStores(ctx, busy=lambda: False)
    try:
        stores.add(failing)
        stores.add(fine)
        _wait(stores.idle)
        assert ctx.states.state(failing.below.query_id).name == "ERRORED"
        assert fine.below.is_stored(ctx)
    finally:
        stores.stop()


def test_stop_drops_what_is_queued(ctx):
    stores = IdleStores(ctx, busy=lambda: True)
    query = _Rows(1, _Rows(time.time_ns() % 10**9))
    stores.add(query)
    stores.stop(timeout=5)
    stores.add(query)  # ignored once stopped
    assert stores.idle()
    assert not query.below.is_stored(ctx)
