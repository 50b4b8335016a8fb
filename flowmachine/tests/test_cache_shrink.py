"""`flowmachine cache shrink` and the server's shrink schedule, against the session's FlowDB and Redis: which
cache tables are gone is checked in pg_tables, apart from what the shrink reports."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import pytest
from psycopg import sql

from flowdb.testing import connect_as
from flowmachine.core import cache_cli
from flowmachine.core.cache_compute import compute
from flowmachine.core.cache_eviction import invalidate
from flowmachine.core.cache_tables import cache_size
from flowmachine.core.context import Context
from flowmachine.core.query import Query
from flowmachine.core.server.server import FlowmachineServer, ServerSettings, main
from flowmachine.core.state import QueryEvent, QueryState
from flowmachine.testing import free_port


class Rows(Query):
    """`n` rows; `tag` only tells these tests' queries apart from every other test's."""

    def __init__(self, n: int, tag: str) -> None:
        self.n = n
        self.tag = tag
        super().__init__()

    @property
    def column_names(self) -> list[str]:
        return ["value"]

    def _make_query(self, ctx: Context) -> sql.Composable:
        return sql.SQL("SELECT g AS value FROM generate_series(1, {}) g").format(
            sql.Literal(self.n)
        )


class Doubled(Query):
    """`source`'s values doubled."""

    def __init__(self, source: Query) -> None:
        self.source = source
        super().__init__()

    @property
    def column_names(self) -> list[str]:
        return ["value"]

    def _make_query(self, ctx: Context) -> sql.Composable:
        return sql.SQL("SELECT value * 2 AS value FROM ({}) s").format(self.source.get_query(ctx))


def cache_tables(ctx: Context) -> set[str]:
    with ctx.pool.connection() as conn:
        return {
            r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'cache'")
        }


def stored(ctx: Context, tag: str, count: int, *, aged: int) -> list[Rows]:
    """`count` stored queries; the first `aged` made old, unread and cheap (evictable, lowest scores)."""
    queries = [Rows(1000 + i, tag) for i in range(count)]
    for q in queries:
        q.store(ctx).result()
    with ctx.pool.connection() as conn:
        conn.execute(
            "UPDATE cache.cached SET compute_time = 0.001, created = now() - interval '2 days', "
            "last_accessed = now() - interval '1 hour' WHERE query_id = ANY(%s)",
            ([q.query_id for q in queries[:aged]],),
        )
    return queries


@contextmanager
def configured_cache_size(flowdb_cluster, size: int) -> Iterator[None]:
    """FlowDB's `cache_size` (what CACHE_SIZE sets) for the duration of the block."""
    with connect_as(flowdb_cluster, "flowdb") as conn:
        before = conn.execute(
            "SELECT value FROM cache.cache_config WHERE key = 'cache_size'"
        ).fetchone()[0]
        conn.execute(
            "UPDATE cache.cache_config SET value = %s WHERE key = 'cache_size'", (str(size),)
        )
        try:
            yield
        finally:
            conn.execute(
                "UPDATE cache.cache_config SET value = %s WHERE key = 'cache_size'", (before,)
            )


def test_shrink_command_evicts_old_results_and_keeps_protected_and_computing(
    ctx, fm_settings, capsys
):
    queries = stored(ctx, "command", 4, aged=3)
    old, fresh, computing = queries[:2], queries[3], queries[2]
    # The third is being computed again by some process: its table is there, but its state is executing.
    states = ctx.states
    states.trigger(computing.query_id, QueryEvent.RESET, owner=ctx.owner)
    states.trigger(computing.query_id, QueryEvent.FINISH_RESETTING)
    states.trigger(computing.query_id, QueryEvent.QUEUE, owner=ctx.owner)
    states.trigger(computing.query_id, QueryEvent.EXECUTE, owner=ctx.owner)
    before = cache_tables(ctx)
    try:
        assert cache_cli.main(["shrink", "--size", "0", "--dry-run"], settings=fm_settings) == 0
        listed = capsys.readouterr().out.split()
        assert cache_tables(ctx) == before  # a dry run drops nothing
        assert {q.query_id for q in old} <= set(listed)
        assert computing.query_id not in listed and fresh.query_id not in listed

        assert cache_cli.main(["shrink", "--size", "0"], settings=fm_settings) == 0
        out = capsys.readouterr()
        evicted = set(out.out.split())
        assert "evicted" in out.err
    finally:
        states.trigger(computing.query_id, QueryEvent.FINISH)
    after = cache_tables(ctx)
    assert before - after == {f"x{q}" for q in evicted}  # what it says it dropped is what is gone
    assert {q.table_name for q in old} <= before - after
    assert {computing.table_name, fresh.table_name} <= after  # computing / in the protected period
    assert all(q.query_state(ctx) is QueryState.KNOWN for q in old)


def test_shrink_honours_the_configured_cache_size(ctx, flowdb_cluster, fm_settings, capsys):
    queries = stored(ctx, "configured", 3, aged=3)
    with ctx.pool.connection() as conn:  # the first scores lowest of all
        conn.execute(
            "UPDATE cache.cached SET compute_time = 0 WHERE query_id = %s",
            (queries[0].query_id,),
        )
    total = cache_size(ctx)
    with configured_cache_size(flowdb_cluster, total):
        assert cache_cli.main(["shrink"], settings=fm_settings) == 0
        assert capsys.readouterr().out.split() == []  # at its size: nothing to do
    before = cache_tables(ctx)
    with configured_cache_size(flowdb_cluster, total - 1):
        assert cache_cli.main(["shrink"], settings=fm_settings) == 0
    assert capsys.readouterr().out.split() == [queries[0].query_id]  # one is enough
    assert before - cache_tables(ctx) == {queries[0].table_name}
    assert cache_size(ctx) <= total - 1


def test_console_script_runs_the_cache_command(ctx, fm_settings):
    env = {
        **os.environ,
        "FLOWDB_HOST": fm_settings.flowdb_host,
        "FLOWDB_PORT": str(fm_settings.flowdb_port),
        "FLOWMACHINE_FLOWDB_PASSWORD": fm_settings.flowdb_password,
        "REDIS_HOST": fm_settings.redis_host,
        "REDIS_PORT": str(fm_settings.redis_port),
    }
    (old,) = stored(ctx, "script", 1, aged=1)
    command = [sys.executable, "-m", "flowmachine.core.server.server", "cache", "shrink"]
    done = subprocess.run(
        [*command, "--size", "0", "--dry-run"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert old.query_id in done.stdout.split() and old.is_stored(ctx)
    bad = subprocess.run(
        [*command, "--size", "-5"], env=env, capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 2 and "must not be negative" in bad.stderr


def test_bad_schedule_settings_are_refused():
    settings = ServerSettings.from_env(
        {"FLOWMACHINE_CACHE_PRUNING_FREQUENCY": "30", "FLOWMACHINE_CACHE_PRUNING_TIMEOUT": "5"}
    )
    assert (settings.cache_shrink_interval, settings.cache_shrink_time_limit) == (30, 5)
    assert ServerSettings.from_env({}).cache_shrink_interval == 86400
    with pytest.raises(Exception, match="FLOWMACHINE_CACHE_PRUNING_FREQUENCY"):
        ServerSettings.from_env({"FLOWMACHINE_CACHE_PRUNING_FREQUENCY": "daily"})
    with pytest.raises(SystemExit):
        main(["cache", "grow"])


def test_server_shrinks_the_cache_on_its_schedule(ctx, fm_settings, flowdb_cluster):
    queries = stored(ctx, "schedule", 2, aged=2)
    settings = ServerSettings(port=free_port(), cache_shrink_interval=1, cache_shrink_time_limit=30)
    with Context.open(fm_settings) as server_ctx, configured_cache_size(flowdb_cluster, 0):
        server = FlowmachineServer(server_ctx, settings)
        thread = threading.Thread(target=asyncio.run, args=(server.serve(),), daemon=True)
        thread.start()
        try:
            assert server.bound.wait(10)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and any(q.is_stored(ctx) for q in queries):
                time.sleep(0.2)
        finally:
            server.stop()
            thread.join(timeout=10)
    assert not {q.table_name for q in queries} & cache_tables(ctx)


def test_a_dependency_evicted_while_a_query_waits_for_a_slot_is_inlined_instead(fm_settings):
    with Context.open(replace(fm_settings, pool_size=1)) as ctx:
        source = Rows(10, "evicted-dependency")
        source.store(ctx).result()
        doubled = Doubled(source)

        def reads() -> int:
            with ctx.pool.connection() as conn:
                return conn.execute(
                    "SELECT access_count FROM cache.cached WHERE query_id = %s", (source.query_id,)
                ).fetchone()[0]

        before = reads()
        with ctx.pool.computing():  # the only compute slot: the query is composed, then waits
            future = ctx.executor.submit(compute, ctx, doubled, store_dependencies=False)
            deadline = time.monotonic() + 10
            while reads() == before and time.monotonic() < deadline:
                time.sleep(0.05)
            assert reads() > before  # composed to read the source's cache table
            invalidate(ctx, source.query_id)
        future.result(timeout=60)
        assert doubled.query_state(ctx) is QueryState.COMPLETED
        assert not source.is_stored(ctx)
        assert sorted(doubled.get_dataframe(ctx)["value"]) == list(range(2, 21, 2))
