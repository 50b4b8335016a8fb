"""FlowAPI speed over HTTP (hypercorn, loopback), against baselines measured in the same run.

Usage: uv run python bench/api.py [--quick] [--cold-only] [--cold 8,12,30] [--no-write]

Starts a private FlowDB (tuned as `flowdb start` tunes it) with FlowDB's synthetic data (calls only), a private
Redis, a FlowMachine server (the `flowmachine` console script) and FlowAPI (the `flowapi` console script, so
hypercorn as deployed) as subprocesses on loopback ports, mints an all-access token from a fresh key pair, and
measures:

a. cached-result round trip: POST /run -> GET /poll -> GET /get of an already computed
   spatial_aggregate(daily_location), N times on one keep-alive httpx client: p50/p95 (target p50 <= 15 ms).
   References: one FlowMachine ZeroMQ ping from this process, and GET /available_dates (auth + one ZeroMQ call).
b. /get streaming rate: a real query (location_event_counts by hour, admin3) is computed through the API, then
   its cache table is grown to >= 1 M rows as the flowmachine role (every top-level kind is redacted, so none
   gives a million rows on data this size), keeping its registration (cache.cached, Redis state). GET
   /api/0/get/<id> fully read (rows/s) against an asyncpg fetch of `SELECT * FROM cache.x<id>` as the flowapi
   role (target ratio >= 0.7).
c. 200 concurrent clients (asyncio + httpx), each doing run -> poll -> get of cached queries a few times: errors
   (target 0), throughput and latency percentiles, against the single-client round trip of (a).
d. 8, 12 and 30 concurrent clients on a cold cache, each submitting a distinct multi-dependency query
   (spatial_aggregate of a modal_location of 7 daily_locations, admin3; each client its own `hours` window and
   method, so no two share a dependency): completed and errored counts (target: all completed), latency
   submit -> result fetched p50 / p99 / max and the wall time, against one such query alone on a cold cache
   (median of 3, measured first in the same run). FlowMachine runs on its default pool (5 computing + 1).
   Before issue 17's change FlowMachine errored or stuck on 8 such queries at once (PoolTimeout).

Results are written into bench/RESULTS.md between `<!-- api:begin -->` and `<!-- api:end -->`, and (d) between
`<!-- api-cold:begin -->` and `<!-- api-cold:end -->`; `--cold-only` runs (d) alone and writes only its section.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psycopg
from psycopg.conninfo import make_conninfo
from results_file import write_section

from flowapi.zmq_client import FlowmachineClient
from flowdb.cluster import Cluster
from flowdb.settings import Settings as FlowDBSettings
from flowdb.synthetic.config import SyntheticConfig
from flowdb.synthetic.run import generate
from flowdb.testing import free_port, start_redis
from flowdb.tuning import machine_cores, machine_memory_bytes
from flowkit_jwt_generator import generate_keypair, generate_token

BEGIN, END = "<!-- api:begin -->", "<!-- api:end -->"
COLD_BEGIN, COLD_END = "<!-- api-cold:begin -->", "<!-- api-cold:end -->"
AUDIENCE = "bench-flowapi"
START = dt.date(2016, 1, 1)
TARGET_P50_MS, TARGET_STREAM_RATIO = 15.0, 0.7
BIN = Path(sys.executable).parent


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))]


def daily_spec(day: dt.date, unit: str) -> dict[str, Any]:
    return {
        "query_kind": "spatial_aggregate",
        "locations": {
            "query_kind": "daily_location",
            "date": day.isoformat(),
            "aggregation_unit": unit,
            "method": "last",
        },
    }


def big_spec(config: SyntheticConfig) -> dict[str, Any]:
    return {
        "query_kind": "location_event_counts",
        "start_date": config.dates[0].isoformat(),
        "end_date": (config.dates[-1] + dt.timedelta(days=1)).isoformat(),
        "aggregation_unit": "admin3",
        "interval": "hour",
        "direction": "both",
    }


async def run_to_completion(client: httpx.AsyncClient, spec: dict[str, Any]) -> str:
    """Run a query through the API and poll until FlowAPI redirects to its result."""
    r = await client.post("/api/0/run", json=spec)
    if r.status_code not in (202, 303):
        raise RuntimeError(f"run: {r.status_code} {r.text}")
    query_id = (
        r.json()["query_id"] if r.status_code == 202 else r.headers["Location"].split("/")[-1]
    )
    for _ in range(6000):
        p = await client.get(f"/api/0/poll/{query_id}")
        if p.status_code == 303:
            return query_id
        if p.status_code != 202:
            raise RuntimeError(f"poll: {p.status_code} {p.text}")
        await asyncio.sleep(0.1)
    raise RuntimeError(f"query {query_id} did not complete")


@dataclass
class Timing:
    total: float
    run: float
    poll: float
    get: float


async def round_trip(client: httpx.AsyncClient, spec: dict[str, Any]) -> Timing:
    """One cached-result round trip: run (202/303), poll (303), get (200, body read)."""
    t0 = time.perf_counter()
    r = await client.post("/api/0/run", json=spec)
    if r.status_code not in (202, 303):
        raise RuntimeError(f"run {r.status_code}")
    query_id = (
        r.json()["query_id"] if r.status_code == 202 else r.headers["Location"].split("/")[-1]
    )
    t1 = time.perf_counter()
    p = await client.get(f"/api/0/poll/{query_id}")
    if p.status_code != 303:
        raise RuntimeError(f"poll {p.status_code}")
    t2 = time.perf_counter()
    g = await client.get(p.headers["Location"])
    if g.status_code != 200 or not g.content.endswith(b"]}"):
        raise RuntimeError(f"get {g.status_code}")
    t3 = time.perf_counter()
    return Timing(t3 - t0, t1 - t0, t2 - t1, t3 - t2)


def ms(seconds: float) -> float:
    return seconds * 1000


async def measure_round_trip(
    url: str, headers: dict, spec: dict, n: int, fm: str
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    # reference 1: a bare ZeroMQ round trip to FlowMachine from this process (FlowAPI's client)
    zmq_client = FlowmachineClient(fm, timeout=10)
    pings = []
    for _ in range(n):
        t = time.perf_counter()
        reply = await zmq_client.ping(request_id=str(uuid.uuid4()))
        pings.append(time.perf_counter() - t)
        assert reply.ok
    out["zmq_ping_p50"] = ms(pct(pings, 50))
    # reference 3: FlowMachine's share of a round trip: the three calls FlowAPI makes, made directly
    actions = []
    for _ in range(n):
        t = time.perf_counter()
        run = await zmq_client.run_query(spec, request_id="bench")
        query_id = run.payload["query_id"]
        assert (await zmq_client.poll_query(query_id, request_id="bench")).ok
        assert (await zmq_client.get_sql_for_query_result(query_id, request_id="bench")).ok
        actions.append(time.perf_counter() - t)
    zmq_client.close()
    out["zmq_actions_p50"] = ms(pct(actions, 50))
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as client:
        # reference 2: one authenticated route with one ZeroMQ call
        dates = []
        for _ in range(n):
            t = time.perf_counter()
            r = await client.get("/api/0/available_dates")
            dates.append(time.perf_counter() - t)
            assert r.status_code == 200, r.text
        out["available_dates_p50"] = ms(pct(dates, 50))
        for _ in range(10):  # warm up
            await round_trip(client, spec)
        timings = [await round_trip(client, spec) for _ in range(n)]
    totals = [t.total for t in timings]
    out["p50"], out["p95"] = ms(pct(totals, 50)), ms(pct(totals, 95))
    out["run_p50"] = ms(pct([t.run for t in timings], 50))
    out["poll_p50"] = ms(pct([t.poll for t in timings], 50))
    out["get_p50"] = ms(pct([t.get for t in timings], 50))
    out["n"] = n
    return out


def grow_cache_table(fm_conninfo: str, table: str, target_rows: int) -> int:
    """Grow a completed query's cache table to >= target_rows rows (copies of its own rows), as its owner."""
    with psycopg.connect(fm_conninfo, autocommit=True) as conn:
        n = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        if n == 0:
            raise RuntimeError(f"{table} is empty: nothing to replicate")
        copies = -(-target_rows // n) - 1
        if copies > 0:
            conn.execute(
                f"INSERT INTO {table} SELECT t.* FROM {table} t, generate_series(1, %s) g",
                (copies,),
            )
        conn.execute(f"ANALYZE {table}")
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


async def measure_stream(
    url: str, headers: dict, query_id: str, table: str, flowapi_dsn: dict, runs: int
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    direct, direct_cursor = [], []
    conn = await asyncpg.connect(**flowapi_dsn)
    try:
        for _ in range(runs):
            t = time.perf_counter()
            rows = await conn.fetch(f"SELECT * FROM {table}")
            direct.append(time.perf_counter() - t)
        n_rows = len(rows)
        del rows
        chunk = int(os.environ.get("FLOWAPI_RESULT_CHUNK_ROWS", "2000"))
        for _ in range(runs):  # as FlowAPI reads it: server-side cursor, chunk rows per round trip
            t = time.perf_counter()
            count = 0
            async with conn.transaction(readonly=True):
                cur = await conn.cursor(f"SELECT * FROM {table}")
                while batch := await cur.fetch(chunk):
                    count += len(batch)
            direct_cursor.append(time.perf_counter() - t)
        # the same cursor read as FlowAPI reads it for JSON (rows written by PostgreSQL), in this process
        from flowapi.results import json_rows_sql

        t = time.perf_counter()
        async with conn.transaction(readonly=True):
            cur = await conn.cursor(await json_rows_sql(conn, f"SELECT * FROM {table}"))
            while batch := await cur.fetch(chunk):
                ", ".join(r[0] for r in batch).encode()
        out["cursor_json_rate"] = n_rows / (time.perf_counter() - t)
    finally:
        await conn.close()
    api, body_bytes = [], 0
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=600) as client:
        for i in range(runs):
            parts = []
            t = time.perf_counter()
            async with client.stream("GET", f"/api/0/get/{query_id}") as r:
                assert r.status_code == 200
                async for part in r.aiter_raw():
                    parts.append(part)
            api.append(time.perf_counter() - t)
            body = b"".join(parts)
            body_bytes = len(body)
            if i == 0:
                got = len(json.loads(body)["query_result"])
                if got != n_rows:
                    raise RuntimeError(f"API gave {got} rows, table has {n_rows}")
            del body, parts
    out["rows"], out["bytes"] = n_rows, body_bytes
    out["api_rate"] = n_rows / min(api)
    out["direct_rate"] = n_rows / min(direct)
    out["cursor_rate"] = n_rows / min(direct_cursor)
    out["api_s"], out["direct_s"] = min(api), min(direct)
    return out


async def measure_concurrent(
    url: str, headers: dict, specs: list[dict], clients: int, repeats: int
) -> dict[str, Any]:
    latencies: list[float] = []
    errors: list[str] = []

    async def one(k: int, client: httpx.AsyncClient) -> None:
        for i in range(repeats):
            t = time.perf_counter()
            try:
                await round_trip(client, specs[(k + i) % len(specs)])
                latencies.append(time.perf_counter() - t)
            except Exception as exc:  # counted, not raised
                errors.append(f"{type(exc).__name__}: {exc}")

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(
        base_url=url, headers=headers, timeout=120, limits=limits
    ) as client:
        t = time.perf_counter()
        await asyncio.gather(*(one(k, client) for k in range(clients)))
        wall = time.perf_counter() - t
    return {
        "clients": clients,
        "round_trips": clients * repeats,
        "errors": len(errors),
        "error_kinds": sorted(set(errors))[:5],
        "throughput": len(latencies) / wall,
        "p50": ms(pct(latencies, 50)) if latencies else float("nan"),
        "p95": ms(pct(latencies, 95)) if latencies else float("nan"),
        "p99": ms(pct(latencies, 99)) if latencies else float("nan"),
        "max": ms(max(latencies)) if latencies else float("nan"),
        "wall": wall,
    }


def cold_specs(dates: list[dt.date], n: int) -> list[dict[str, Any]]:
    """`n` distinct spatial aggregates of a modal location of 7 daily locations (admin3): each its own
    `hours` window (18 to 24 hours long) and method, so no two share a dependency; in a fixed shuffled order."""
    variants = [
        (start, start + span, method)
        for span in range(18, 25)
        for start in range(0, 25 - span)
        for method in ("last", "most-common")
    ]
    random.Random(17).shuffle(variants)
    if n > len(variants):
        raise ValueError(f"at most {len(variants)} distinct cold queries")
    return [
        {
            "query_kind": "spatial_aggregate",
            "locations": {
                "query_kind": "modal_location",
                "locations": [
                    {
                        "query_kind": "daily_location",
                        "date": day.isoformat(),
                        "aggregation_unit": "admin3",
                        "method": method,
                        "hours": {"start_hour": start, "end_hour": end},
                    }
                    for day in dates[:7]
                ],
            },
        }
        for start, end, method in variants[:n]
    ]


async def cold_query(client: httpx.AsyncClient, spec: dict[str, Any], timeout: float) -> float:
    """Submit a query, poll until it is ready, fetch its result: seconds taken (raises on an error)."""
    started = time.perf_counter()
    r = await client.post("/api/0/run", json=spec)
    if r.status_code != 202:
        raise RuntimeError(f"run {r.status_code}: {r.text[:200]}")
    query_id = r.json()["query_id"]
    while True:
        p = await client.get(f"/api/0/poll/{query_id}")
        if p.status_code == 303:
            break
        if p.status_code != 202:
            raise RuntimeError(f"poll {p.status_code}: {p.text[:200]}")
        if time.perf_counter() - started > timeout:
            raise RuntimeError(f"not ready after {timeout:.0f} s")
        await asyncio.sleep(0.1)
    g = await client.get(p.headers["Location"])
    if g.status_code != 200 or not json.loads(g.content)["query_result"]:
        raise RuntimeError(f"get {g.status_code}")
    return time.perf_counter() - started


async def measure_cold(
    url: str, headers: dict, dates: list[dt.date], levels: list[int], timeout: float
) -> dict[str, Any]:
    """(d): one cold query alone (median of 3), then each level of concurrent cold clients."""
    specs = cold_specs(dates, 3 + sum(levels))
    out: dict[str, Any] = {"levels": []}
    limits = httpx.Limits(max_connections=max(levels) + 5)
    async with httpx.AsyncClient(
        base_url=url, headers=headers, timeout=120, limits=limits
    ) as client:
        alone = [await cold_query(client, spec, timeout) for spec in specs[:3]]
        out["alone"] = sorted(alone)[1]
        print(f"   one cold query alone: {[round(a, 2) for a in alone]} s", flush=True)
        offset = 3
        for clients in levels:
            batch, offset = specs[offset : offset + clients], offset + clients
            latencies: list[float] = []
            errors: list[str] = []

            async def one(spec: dict[str, Any], latencies: list[float], errors: list[str]) -> None:
                try:
                    latencies.append(await cold_query(client, spec, timeout))
                except Exception as exc:  # counted, not raised
                    errors.append(f"{type(exc).__name__}: {exc}")

            t = time.perf_counter()
            await asyncio.gather(*(one(spec, latencies, errors) for spec in batch))
            wall = time.perf_counter() - t
            level = {
                "clients": clients,
                "completed": len(latencies),
                "errored": len(errors),
                "error_kinds": sorted(set(errors))[:3],
                "p50": pct(latencies, 50) if latencies else float("nan"),
                "p99": pct(latencies, 99) if latencies else float("nan"),
                "max": max(latencies) if latencies else float("nan"),
                "wall": wall,
            }
            print(f"   {level}", flush=True)
            out["levels"].append(level)
    return out


def format_cold(d: dict, size: str, args: argparse.Namespace) -> str:
    flags = "".join(
        f" {flag}" for flag, on in (("--quick", args.quick), ("--cold-only", args.cold_only)) if on
    )
    alone = d["alone"]
    lines = [
        f"Measured {dt.date.today()} on {platform.node() or 'this machine'}: {machine_cores()} cores, "
        f"{machine_memory_bytes() / 2**30:.0f} GiB RAM, {platform.platform()}, PostgreSQL 15, "
        f"`uv run python bench/api.py{flags}`. Data: {size}. FlowMachine on its default pool "
        f"(DB_CONNECTION_POOL_SIZE 5, DB_CONNECTION_POOL_OVERFLOW 1); FlowAPI, FlowMachine, FlowDB, Redis and "
        f"the clients on this machine, loopback. Each client: a distinct spatial_aggregate(modal_location of "
        f"7 daily_locations, admin3), cold cache; latency = submit → result fetched.",
        "",
        "| concurrent clients | completed / errored | latency p50 / p99 / max | wall | baseline: 1 query alone, "
        "cold (median of 3) | p50 ÷ baseline | wall ÷ (clients × baseline) |",
        "|---|---|---|---|---|---|---|",
    ]
    for level in d["levels"]:
        n = level["clients"]
        lines.append(
            f"| {n} | **{level['completed']} / {level['errored']}** | {level['p50']:.1f} / "
            f"{level['p99']:.1f} / {level['max']:.1f} s | {level['wall']:.1f} s | {alone:.2f} s | "
            f"{level['p50'] / alone:.1f} | {level['wall'] / (n * alone):.2f} |"
        )
    kinds = [k for level in d["levels"] for k in level["error_kinds"]]
    if kinds:
        lines += ["", "Errors in (d): " + "; ".join(sorted(set(kinds)))]
    return "\n".join(lines)


def wait_http(url: str, proc: subprocess.Popen, log: Path) -> None:
    for _ in range(600):
        if proc.poll() is not None:
            raise RuntimeError(f"flowapi exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/api/0/spec/openapi.json", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("FlowAPI did not start")


def stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def format_section(
    a: dict, b: dict, c: dict, c_repeats: int, size: str, args: argparse.Namespace
) -> str:
    rt_ok = a["p50"] <= TARGET_P50_MS
    ratio = b["api_rate"] / b["direct_rate"]
    single_tp = 1000 / a["p50"]
    flag = " --quick" if args.quick else ""
    lines = [
        f"Measured {dt.date.today()} on {platform.node() or 'this machine'}: {machine_cores()} cores, "
        f"{machine_memory_bytes() / 2**30:.0f} GiB RAM, {platform.platform()}, PostgreSQL 15, "
        f"`uv run python bench/api.py{flag}`. Data: {size}. FlowAPI (`flowapi` console script, hypercorn, one "
        f"process), FlowMachine server, FlowDB, Redis and the clients all on this machine, loopback.",
        "",
        "| measure | value | baseline (same run) | ratio / target | pass |",
        "|---|---|---|---|---|",
        f"| (a) cached round trip run→poll→get, p50 ({a['n']} reps, 1 keep-alive client) | "
        f"**{a['p50']:.1f} ms** | ZeroMQ ping {a['zmq_ping_p50']:.2f} ms; GET available_dates "
        f"{a['available_dates_p50']:.1f} ms | target ≤ {TARGET_P50_MS:.0f} ms | {'✓' if rt_ok else '✗'} |",
        f"| (a) same, p95 | {a['p95']:.1f} ms | | | |",
        f"| (a) per step, p50: run / poll / get | {a['run_p50']:.1f} / {a['poll_p50']:.1f} / "
        f"{a['get_p50']:.1f} ms | FlowMachine's three calls (run_query, poll_query, "
        f"get_sql_for_query_result) made directly: {a['zmq_actions_p50']:.1f} ms | | |",
        f"| (b) GET /get streaming, {b['rows']:,} rows ({b['bytes'] / 2**20:.0f} MiB JSON) | "
        f"**{b['api_rate']:,.0f} rows/s** ({b['api_s']:.2f} s) | asyncpg fetch as flowapi "
        f"{b['direct_rate']:,.0f} rows/s ({b['direct_s']:.2f} s) | {ratio:.2f} (target ≥ "
        f"{TARGET_STREAM_RATIO}) | {'✓' if ratio >= TARGET_STREAM_RATIO else '✗'} |",
        f"| (b) reference: asyncpg cursor in FlowAPI's chunks; same, as JSON text written by PostgreSQL | "
        f"{b['cursor_rate']:,.0f}; {b['cursor_json_rate']:,.0f} rows/s | | "
        f"{b['cursor_rate'] / b['direct_rate']:.2f}; {b['cursor_json_rate'] / b['direct_rate']:.2f} | |",
        f"| (c) {c['clients']} concurrent clients × {c_repeats} round trips: errors | "
        f"**{c['errors']}** of {c['round_trips']} | | target 0 | {'✓' if c['errors'] == 0 else '✗'} |",
        f"| (c) throughput | **{c['throughput']:.0f} round trips/s** ({c['wall']:.1f} s) | 1 client "
        f"{single_tp:.0f} round trips/s (1 / p50 of a) | {c['throughput'] / single_tp:.2f} | |",
        f"| (c) latency p50 / p95 / p99 / max | {c['p50']:.0f} / {c['p95']:.0f} / {c['p99']:.0f} / "
        f"{c['max']:.0f} ms | 1 client p50 {a['p50']:.1f} ms | | |",
    ]
    if c["error_kinds"]:
        lines.append("")
        lines.append("Errors in (c): " + "; ".join(c["error_kinds"]))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, smaller result")
    parser.add_argument("--no-write", action="store_true", help="do not update bench/RESULTS.md")
    parser.add_argument(
        "--cold-only", action="store_true", help="run only (d), cold concurrent queries"
    )
    parser.add_argument(
        "--cold", default="8,12,30", help="(d): numbers of concurrent clients, comma-separated"
    )
    args = parser.parse_args()
    cold_levels = [int(n) for n in args.cold.split(",") if n.strip()]
    c_repeats = 2 if args.quick else 3
    a = b = c = None

    # 7 days: (d)'s modal locations take one daily location per day
    config = SyntheticConfig(
        n_days=7, start_date=START, n_subscribers=20_000, n_calls=100_000,
        n_sms=0, n_mds=0, n_topups=0, generator="python",
    ).validate()  # fmt: skip

    root = Path(tempfile.mkdtemp(prefix="flowapi-bench-"))
    root.chmod(0o755)
    db_port = free_port()
    db_settings = FlowDBSettings.from_env(
        {**os.environ, "FLOWDB_DATA_DIR": str(root / "db"), "FLOWDB_PORT": str(db_port)}
    )
    cluster = Cluster(db_settings)
    redis_proc = fm_proc = api_proc = None
    try:
        cluster.start()
        redis_proc, redis_port = start_redis(root / "redis")
        connect = partial(psycopg.connect, db_settings.url(), autocommit=True)
        print(f"== loading {config.n_days} days x {config.rows_per_day:,} rows/day", flush=True)
        report = generate(connect, config, workers=machine_cores(), progress=lambda m: None)
        size = (
            f"{config.n_days} days from {START}, {config.n_subscribers:,} subscribers, "
            f"{report.total_rows:,} call rows (FlowDB synthetic, python generator)"
        )
        print(f"   {size}", flush=True)

        fm_port, api_port = free_port(), free_port()
        fm_password = db_settings.role_password("flowmachine")
        api_password = db_settings.role_password("flowapi")
        private_pem, public_pem = generate_keypair()
        common = {
            **os.environ,
            "FLOWDB_HOST": "127.0.0.1",
            "FLOWDB_PORT": str(db_port),
            "FLOWMACHINE_HOST": "127.0.0.1",
            "FLOWMACHINE_PORT": str(fm_port),
            "REDIS_HOST": "127.0.0.1",
            "REDIS_PORT": str(redis_port),
        }
        fm_env = {**common, "FLOWMACHINE_FLOWDB_PASSWORD": fm_password}
        api_env = {
            **common,
            "FLOWAPI_PORT": str(api_port),
            "FLOWAPI_FLOWDB_USER": "flowapi",
            "FLOWAPI_FLOWDB_PASSWORD": api_password,
            "FLOWAPI_IDENTIFIER": AUDIENCE,
            "PUBLIC_JWT_SIGNING_KEY": public_pem.decode(),
        }
        fm_log, api_log = root / "flowmachine.log", root / "flowapi.log"
        with fm_log.open("wb") as out:
            fm_proc = subprocess.Popen(
                [str(BIN / "flowmachine")], env=fm_env, stdout=out, stderr=subprocess.STDOUT
            )
        with api_log.open("wb") as out:
            api_proc = subprocess.Popen(
                [str(BIN / "flowapi")], env=api_env, stdout=out, stderr=subprocess.STDOUT
            )
        url = f"http://127.0.0.1:{api_port}"
        wait_http(url, api_proc, api_log)
        scopes = httpx.get(f"{url}/api/0/spec/openapi.json").json()["components"][
            "securitySchemes"
        ]["token"]["x-security-scopes"]
        token = generate_token(
            flowapi_identifier=AUDIENCE,
            username="bench",
            private_key=private_pem.decode(),
            lifetime=dt.timedelta(hours=2),
            roles={"bench": scopes},
        )
        headers = {"Authorization": f"Bearer {token}"}

        if not args.cold_only:
            a, b, c = run_abc(args, url, headers, config, fm_port, db_port, fm_password,
                              api_password)  # fmt: skip
        print(f"== (d) cold concurrent clients {cold_levels}", flush=True)
        d = asyncio.run(measure_cold(url, headers, config.dates, cold_levels, timeout=900))
    finally:
        stop(api_proc)
        stop(fm_proc)
        if redis_proc is not None:
            redis_proc.terminate()
            redis_proc.wait(timeout=10)
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)

    text = None if a is None else format_section(a, b, c, c_repeats, size, args)
    finish(args, text, d, size)


def run_abc(
    args: argparse.Namespace,
    url: str,
    headers: dict,
    config: SyntheticConfig,
    fm_port: int,
    db_port: int,
    fm_password: str,
    api_password: str,
) -> tuple[dict, dict, dict]:
    """(a), (b) and (c) on the running stack."""
    reps = 50 if args.quick else 300
    big_rows = 200_000 if args.quick else 1_200_000
    clients, c_repeats = (50, 2) if args.quick else (200, 3)
    stream_runs = 1 if args.quick else 3

    async def prepare() -> tuple[list[dict], str]:
        specs = [daily_spec(d, u) for d in config.dates[:3] for u in ("admin1", "admin3")]
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as client:
            for spec in specs:
                await run_to_completion(client, spec)
            big_id = await run_to_completion(client, big_spec(config))
        return specs, big_id

    print("== computing queries through the API", flush=True)
    t = time.perf_counter()
    specs, big_id = asyncio.run(prepare())
    print(f"   {len(specs) + 1} queries in {time.perf_counter() - t:.1f} s", flush=True)

    print(f"== (a) cached round trip x {reps}", flush=True)
    fm_endpoint = f"tcp://127.0.0.1:{fm_port}"
    a = asyncio.run(measure_round_trip(url, headers, specs[1], reps, fm_endpoint))
    print(f"   {a}", flush=True)

    table = f"cache.x{big_id}"
    fm_conninfo = make_conninfo(
        host="127.0.0.1",
        port=db_port,
        user="flowmachine",
        password=fm_password,
        dbname="flowdb",
    )
    n = grow_cache_table(fm_conninfo, table, big_rows)
    print(f"== (b) streaming {table}: {n:,} rows", flush=True)
    dsn = dict(
        host="127.0.0.1", port=db_port, user="flowapi", password=api_password, database="flowdb"
    )
    b = asyncio.run(measure_stream(url, headers, big_id, table, dsn, stream_runs))
    print(f"   {b}", flush=True)

    print(f"== (c) {clients} concurrent clients x {c_repeats}", flush=True)
    c = asyncio.run(measure_concurrent(url, headers, specs, clients, c_repeats))
    print(f"   {c}", flush=True)
    return a, b, c


def finish(args: argparse.Namespace, text: str | None, d: dict, size: str) -> None:
    """Print the results and write them into bench/RESULTS.md (unless --no-write)."""
    cold = format_cold(d, size, args)
    for section in (text, cold):
        if section is not None:
            print("\n" + section)
    if args.no_write:
        return
    if text is not None:
        write_section(BEGIN, END, text, "## FlowAPI (`bench/api.py`)")
    write_section(
        COLD_BEGIN,
        COLD_END,
        cold,
        "### (d) Concurrent cold multi-dependency queries (`bench/api.py`)",
    )


if __name__ == "__main__":
    main()
