"""Query ids, the cache and the state machine, with a minimal query kind defined here."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from psycopg import sql

from flowmachine.core.cache import (
    cancel,
    compute,
    compute_answer,
    dependency_levels,
    recover,
    shrink_below_size,
    statement_settings,
)
from flowmachine.core.context import Context
from flowmachine.core.errors import QueryCancelledError, QueryFailedError
from flowmachine.core.query import Query
from flowmachine.core.state import QueryEvent, QueryState


class Numbers(Query):
    """`n` rows 1..n, after sleeping `delay` seconds; fails if `fail`."""

    def __init__(self, n: int, delay: float = 0.0, fail: bool = False, method: str = "a") -> None:
        self.n = n
        self.delay = delay
        self.fail = fail
        self.method = method
        super().__init__()

    @property
    def column_names(self) -> list[str]:
        return ["value"]

    def _make_query(self, ctx: Context) -> sql.Composable:
        body = sql.SQL("SELECT g AS value FROM generate_series(1, {}) g, pg_sleep({}) s").format(
            sql.Literal(self.n), sql.Literal(self.delay)
        )
        if self.fail:
            body = sql.SQL("{} WHERE 1 / 0 = 1").format(body)
        return body


class Doubled(Query):
    def __init__(self, numbers: Numbers) -> None:
        self.numbers = numbers
        super().__init__()

    @property
    def column_names(self) -> list[str]:
        return ["value"]

    def _make_query(self, ctx: Context) -> sql.Composable:
        return sql.SQL("SELECT value * 2 AS value FROM ({}) n").format(self.numbers.get_query(ctx))


class Summed(Query):
    """The sum of several queries' values: independent dependencies."""

    def __init__(self, *parts: Query) -> None:
        self.parts = list(parts)
        super().__init__()

    @property
    def column_names(self) -> list[str]:
        return ["value"]

    def _make_query(self, ctx: Context) -> sql.Composable:
        union = sql.SQL(" UNION ALL ").join(
            sql.SQL("SELECT value FROM ({}) p").format(p.get_query(ctx)) for p in self.parts
        )
        return sql.SQL("SELECT sum(value)::int AS value FROM ({}) u").format(union)


def test_dependencies_are_stored_level_by_level():
    a, b, c = Numbers(1, method="lv"), Numbers(2, method="lv"), Numbers(3, method="lv")
    levels = dependency_levels(Summed(Doubled(a), Doubled(b), c, a))
    assert [sorted(q.query_id for q in level) for level in levels] == [
        sorted([a.query_id, b.query_id, c.query_id]),
        sorted([Doubled(a).query_id, Doubled(b).query_id]),
    ]


def test_independent_dependencies_are_computed_side_by_side(ctx):
    assert ctx.settings.dependency_workers >= 2
    slow = [Numbers(i, delay=0.8, method="side") for i in (1, 2)]
    started = time.monotonic()
    compute(ctx, Summed(*slow))
    elapsed = time.monotonic() - started
    assert all(q.query_state(ctx) is QueryState.COMPLETED for q in slow)
    assert elapsed < 1.5  # one after the other would take at least 1.6 s


def test_cache_tables_have_no_indexes(ctx):
    q = Doubled(Numbers(4, method="noindex"))
    compute(ctx, q)
    with ctx.pool.connection() as conn:
        indexes = conn.execute(
            "SELECT count(*) FROM pg_indexes WHERE schemaname = 'cache' AND tablename = %s",
            (q.table_name,),
        ).fetchone()[0]
    assert indexes == 0


def test_query_id_is_deterministic_across_processes():
    here = Numbers(5, method="x").query_id
    code = textwrap.dedent(
        f"""
        import sys; sys.path.insert(0, {str(__file__.rsplit("/", 1)[0])!r})
        from test_query_model import Numbers
        print(Numbers(5, method="x").query_id)
        """
    )
    there = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert here == there
    assert len(here) == 32


def test_different_parameters_give_different_ids():
    ids = {
        Numbers(5).query_id,
        Numbers(6).query_id,
        Numbers(5, method="b").query_id,  # e.g. two sampling methods: FlowKit gives them one id
        Numbers(5, delay=0.1).query_id,
        Doubled(Numbers(5)).query_id,
    }
    assert len(ids) == 5
    assert Doubled(Numbers(5)).query_id == Doubled(Numbers(5)).query_id
    assert Doubled(Numbers(5)).dependencies == [Numbers(5)]


def test_store_writes_table_metadata_and_dependencies(ctx):
    q = Doubled(Numbers(7, method="store"))
    q.store(ctx).result()
    assert q.query_state(ctx) is QueryState.COMPLETED
    assert q.numbers.query_state(ctx) is QueryState.COMPLETED
    assert sorted(q.get_dataframe(ctx)["value"]) == [2 * i for i in range(1, 8)]
    with ctx.pool.connection() as conn:
        row = conn.execute(
            "SELECT class, compute_time >= 0, access_count >= 1, params FROM cache.cached WHERE query_id = %s",
            (q.query_id,),
        ).fetchone()
        deps = conn.execute(
            "SELECT depends_on FROM cache.dependencies WHERE query_id = %s", (q.query_id,)
        ).fetchall()
    assert row == ("Doubled", True, True, {"numbers": {"query_id": q.numbers.query_id}})
    assert deps == [(q.numbers.query_id,)]
    assert "cache" in q.sql_text(ctx) and q.table_name in q.sql_text(ctx)
    assert len(q.head(ctx, 3)) == 3
    assert "Function Scan" in q.numbers.explain(ctx)


def test_failure_is_reported_and_not_retried(ctx):
    q = Numbers(3, fail=True)
    with pytest.raises(QueryFailedError, match="division by zero"):
        q.store(ctx).result()
    assert q.query_state(ctx) is QueryState.ERRORED
    with pytest.raises(QueryFailedError, match="division by zero"):
        compute(ctx, q)


RACE = """
import json, sys
sys.path.insert(0, {here!r})
from flowmachine.core.context import Context
from flowmachine.core.settings import Settings
from flowmachine.core.cache import compute
from test_query_model import Numbers
settings = Settings(**json.loads(sys.argv[1]))
with Context.open(settings, repair=False) as ctx:
    q = Numbers(1000, delay=1.0, method="race")
    compute(ctx, q)
    print(json.dumps(len(q.get_dataframe(ctx))))
"""


def test_racing_processes_compute_once(ctx, fm_settings):
    here = __file__.rsplit("/", 1)[0]
    args = json.dumps(fm_settings.__dict__)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RACE.format(here=here), args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    assert [json.loads(out) for out, _ in outputs] == [1000] * 4
    q = Numbers(1000, delay=1.0, method="race")
    with ctx.pool.connection() as conn:
        # Computed once: one metadata row, created once (a second CREATE TABLE would have failed).
        assert conn.execute(
            "SELECT count(*) FROM cache.cached WHERE query_id = %s", (q.query_id,)
        ).fetchone() == (1,)


def test_cancel_stops_the_running_sql_and_leaves_nothing(ctx):
    q = Numbers(5, delay=30, method="cancel")
    future = q.store(ctx)
    deadline = time.monotonic() + 10
    while q.query_state(ctx) is not QueryState.EXECUTING and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    started = time.monotonic()
    assert cancel(ctx, q.query_id)
    with pytest.raises(QueryCancelledError):
        future.result(timeout=15)
    assert time.monotonic() - started < 5
    assert q.query_state(ctx) is QueryState.CANCELLED
    assert not q.is_stored(ctx)
    q.invalidate_db_cache(ctx)
    assert q.query_state(ctx) is QueryState.KNOWN
    q.store(ctx)  # runs again after a reset (cancel it at once to keep the test short)
    time.sleep(0.2)
    cancel(ctx, q.query_id)


def test_restart_repairs_dead_owners_and_adopts_lost_states(ctx, fm_settings):
    dead = Numbers(2, method="dead-owner")
    ctx.states.trigger(dead.query_id, QueryEvent.QUEUE, owner="gone")
    kept = Numbers(4, method="adopt")
    kept.store(ctx).result()
    ctx.states.forget(kept.query_id)  # Redis lost this state
    repaired, adopted = recover(ctx)
    assert dead.query_id in repaired
    assert kept.query_id in adopted
    assert dead.query_state(ctx) is QueryState.KNOWN
    assert kept.query_state(ctx) is QueryState.COMPLETED
    assert len(kept.get_dataframe(ctx)) == 4


def test_waiters_wake_when_an_owner_dies(ctx):
    q = Numbers(3, method="orphan")

    ctx.states.trigger(q.query_id, QueryEvent.QUEUE, owner="process-that-died")
    # compute() sees the queued query, finds its owner gone, takes over and computes it.
    started = time.monotonic()
    compute(ctx, q)
    assert time.monotonic() - started < 5
    assert q.query_state(ctx) is QueryState.COMPLETED


def test_shrink_evicts_lowest_scores_but_not_protected_or_read(ctx):
    queries = [Numbers(20_000 + i, method="evict") for i in range(4)]
    for q in queries:
        q.store(ctx).result()
    # Make the first two cheap and old, so they score lowest and are outside the protected period.
    with ctx.pool.connection() as conn:
        conn.execute(
            "UPDATE cache.cached SET compute_time = 0.001, created = now() - interval '2 days', "
            "last_accessed = now() - interval '1 hour' WHERE query_id = ANY(%s)",
            ([q.query_id for q in queries[:3]],),
        )
        conn.execute(
            "UPDATE cache.cached SET compute_time = 1e6, created = now() - interval '2 days', "
            "last_accessed = now() - interval '1 hour' WHERE query_id = %s",
            (queries[3].query_id,),
        )
    # A reader holds the third table open: eviction must skip it.
    reading = threading.Event()
    release = threading.Event()

    def reader() -> None:
        with ctx.pool.connection() as conn, conn.transaction():
            conn.execute(sql.SQL("SELECT count(*) FROM {}").format(queries[2].table_identifier))
            reading.set()
            release.wait(20)

    t = threading.Thread(target=reader)
    t.start()
    reading.wait(10)
    try:
        evicted = shrink_below_size(ctx, 0, protected_period=86400)
    finally:
        release.set()
        t.join()
    assert queries[0].query_id in evicted and queries[1].query_id in evicted
    assert queries[2].query_id not in evicted  # being read
    assert queries[3].query_id in evicted or queries[3].is_stored(ctx)
    assert not queries[0].is_stored(ctx)
    assert queries[0].query_state(ctx) is QueryState.KNOWN
    assert queries[2].is_stored(ctx)


class HashaggSetting(Query):
    """One row: the value of enable_hashagg in the statement that computes it."""

    def __init__(self, tag: str, *below: Query) -> None:
        self.tag = tag
        self.below = list(below)
        super().__init__()

    @property
    def column_names(self) -> list[str]:
        return ["value"]

    def _make_query(self, ctx: Context) -> sql.Composable:
        parts = [sql.SQL("SELECT current_setting('enable_hashagg') AS value")]
        parts += [sql.SQL("SELECT value FROM ({}) b").format(q.get_query(ctx)) for q in self.below]
        return sql.SQL("SELECT min(value) AS value FROM ({}) u").format(
            sql.SQL(" UNION ALL ").join(parts)
        )


class SortingSetting(HashaggSetting):
    planner_settings = {"enable_hashagg": "off"}


def test_planner_settings_apply_to_the_statement_that_inlines_them(ctx):
    # `min` over 'on'/'off' is 'off' whenever any part saw the setting off
    inner = SortingSetting("inner")
    top = HashaggSetting("top", inner)
    compute_answer(ctx, top)  # `inner` inlined: its setting applies to `top`'s statement
    assert statement_settings(ctx, top) == {"enable_hashagg": "off"}
    assert top.get_dataframe(ctx)["value"].tolist() == ["off"]

    stored_first = SortingSetting("stored")
    compute(ctx, stored_first)
    later = HashaggSetting("later", stored_first)
    assert (
        statement_settings(ctx, later) == {}
    )  # read from its table: nothing of it runs in `later`
    compute(ctx, later)
    assert later.get_dataframe(ctx)["value"].tolist() == [
        "off"
    ]  # stored with the setting, read as is
    with ctx.pool.connection() as conn:  # and the setting was local to the statements that asked
        assert conn.execute("SHOW enable_hashagg").fetchone()[0] == "on"


def test_planner_settings_outside_the_allow_list_are_refused(ctx):
    class Bad(HashaggSetting):
        planner_settings = {"work_mem": "1TB"}

    with pytest.raises(ValueError, match="not allowed"):
        statement_settings(ctx, Bad("bad"))


def test_planner_settings_are_gathered_without_walking_every_path(ctx):
    # 40 stacked diamonds of unstorable queries over one leaf asking for a setting: 2**40 paths
    class Unstored(HashaggSetting):
        storable = False

    q: Query = SortingSetting("diamond-leaf")
    for i in range(40):
        q = Unstored(f"join{i}", Unstored(f"l{i}", q), Unstored(f"r{i}", q))
    assert statement_settings(ctx, HashaggSetting("diamond-top", q)) == {"enable_hashagg": "off"}
