"""Synthetic-data generator throughput, against PostgreSQL's own COPY speed measured in the same run.

Usage: uv run python bench/synthetic.py [--scale 1.0] [--generators sql,sql-expressions,python] [--no-write]

Starts a private FlowDB in a temporary directory (tuned for this machine, as `flowdb start` tunes it), generates
>= 10 M events with each generator for each data shape and reports events per second:

- events: the event phase: generating and loading each day with its constraints, indexes (none, or FlowETL's
  five), ATTACH and ETL records;
- total: everything `flowdb synthetic` does, including the world (geography, cells) and the ANALYZE of the
  parents, which also analyses every partition.

Generators: `sql` is the SQL generator as `flowdb synthetic` runs it, with its native function (built here
as on first use); `sql-expressions` is the same generator without it (the same rows, made by SQL
expressions); `python` the Python generator.

Baseline: a binary COPY of one generated day partition (the same rows) into a new table in one transaction,
with no indexes, the fastest of three; the ratio generator / COPY says how close a generator gets to loading pre-made rows.
Results are written into bench/RESULTS.md between markers.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import socket
import tempfile
import time
from functools import partial
from pathlib import Path

import psycopg
from results_file import write_section

from flowdb.cluster import Cluster, find_bindir
from flowdb.settings import Settings
from flowdb.synthetic.cli import default_workers
from flowdb.synthetic.config import SyntheticConfig
from flowdb.synthetic.native import build
from flowdb.synthetic.run import generate
from flowdb.tuning import machine_cores, machine_memory_bytes

BEGIN, END = "<!-- synthetic:begin -->", "<!-- synthetic:end -->"


INDEX_MODES = {"none": "none", "FlowETL's 5": "msisdn,msisdn_counterpart,location_id,datetime,tac"}


def bench_config(generator: str, shape: str, scale: float, indexes: str) -> SyntheticConfig:
    if shape == "s":
        # 7 days x 1.5 M rows/day = 10.5 M events for 200,000 subscribers: the baseline's S dataset.
        sizes = dict(n_days=7, n_subscribers=200_000, n_calls=500_000, n_sms=150_000, n_mds=180_000,
                     n_topups=20_000, n_cells=1000, n_sites=500)  # fmt: skip
    else:
        # FlowKit's documented defaults (4,000 subscribers, 200,000 calls, sms and mds a day) for 10 days.
        sizes = dict(n_days=10, n_subscribers=4_000, n_calls=200_000, n_sms=200_000, n_mds=200_000,
                     n_topups=20_000)  # fmt: skip
    for key in ("n_subscribers", "n_calls", "n_sms", "n_mds", "n_topups"):
        sizes[key] = int(sizes[key] * scale)
    return SyntheticConfig(generator=generator, event_indexes=indexes, **sizes).validate()


def copy_baseline(connect, runs: int = 3) -> tuple[int, float]:
    """Rows and seconds of a binary COPY of the first calls partition into a fresh table: the fastest of
    `runs` (this VM's speed varies from minute to minute; the fastest COPY makes the ratio conservative)."""
    results = [_copy_once(connect) for _ in range(runs)]
    return min(results, key=lambda r: r[1])


def _copy_once(connect) -> tuple[int, float]:
    with connect() as conn:
        source = conn.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'events.calls'::regclass ORDER BY c.relname LIMIT 1"
        ).fetchone()[0]
        buffer = bytearray()
        with conn.cursor().copy(
            psycopg.sql.SQL("COPY {} TO STDOUT (FORMAT binary)").format(
                psycopg.sql.Identifier("events", source)
            )
        ) as copy:
            for chunk in copy:
                buffer += chunk
        with conn.transaction():
            conn.execute("CREATE TABLE public.bench_copy (LIKE events.calls)")
            started = time.monotonic()
            with conn.cursor().copy("COPY public.bench_copy FROM STDIN (FORMAT binary)") as copy:
                view = memoryview(buffer)
                for i in range(0, len(view), 1 << 22):
                    copy.write(view[i : i + (1 << 22)])
            seconds = time.monotonic() - started
            rows = conn.execute("SELECT count(*) FROM public.bench_copy").fetchone()[0]
            conn.execute("DROP TABLE public.bench_copy")
    return rows, seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiply subscribers and events (default 1)"
    )
    parser.add_argument("--generators", default="sql,sql-expressions,python")
    parser.add_argument(
        "--shapes", default="s,flowkit", help="s: 200k subscribers; flowkit: its defaults"
    )
    parser.add_argument("--no-write", action="store_true", help="do not update bench/RESULTS.md")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="flowdb-bench-"))
    root.chmod(0o755)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = Settings.from_env(
        {**os.environ, "FLOWDB_DATA_DIR": str(root / "db"), "FLOWDB_PORT": str(port)}
    )
    cluster = Cluster(settings)
    cluster.start()
    library = build(settings.data_dir / "lib", find_bindir(settings) / "pg_config")
    connect = partial(psycopg.connect, settings.url(), autocommit=True)
    rows_out = []
    try:
        for shape, generator, (label, indexes) in (
            (s, g, mode)
            for s in args.shapes.split(",")
            for g in args.generators.split(",")
            for mode in INDEX_MODES.items()
        ):
            config = bench_config(generator.split("-")[0], shape, args.scale, indexes)
            print(
                f"== {shape}, {generator}, indexes {label}: {config.n_days} days x "
                f"{config.rows_per_day:,} rows/day, {config.n_subscribers:,} subscribers",
                flush=True,
            )
            report = generate(
                connect,
                config,
                workers=default_workers(),
                progress=lambda m: print("  " + m, flush=True),
                native_library=library if generator == "sql" else None,
            )
            copy_rows, copy_seconds = copy_baseline(connect)
            events_rate = report.total_rows / report.events_seconds
            total_rate = report.total_rows / report.seconds
            copy_rate = copy_rows / copy_seconds
            rows_out.append(
                (shape, config, generator, label, report, events_rate, total_rate, copy_rate)
            )
            print(
                f"  {generator}: {report.total_rows:,} events; events phase {report.events_seconds:.1f} s "
                f"= {events_rate:,.0f}/s; total {report.seconds:.1f} s = {total_rate:,.0f}/s; "
                f"COPY baseline {copy_rate:,.0f} rows/s; ratio events/COPY {events_rate / copy_rate:.2f}",
                flush=True,
            )
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)

    table = [
        f"Measured {dt.date.today()} on {platform.node() or 'this machine'}: {machine_cores()} cores, "
        f"{machine_memory_bytes() / 2**30:.0f} GiB RAM, {platform.platform()}, PostgreSQL 15, "
        f"`uv run python bench/synthetic.py --scale {args.scale}`.",
        "",
        "| data | generator | indexes | events | events phase | events/s | total (incl. world, ANALYZE) | events/s | COPY baseline rows/s | events/s ÷ COPY |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for shape, config, generator, label, report, events_rate, total_rate, copy_rate in rows_out:
        data = f"{config.n_days} d, {config.n_subscribers // 1000}k subs" + (
            " (S)" if shape == "s" else " (FlowKit defaults)"
        )
        table.append(
            f"| {data} | {generator} | {label} | {report.total_rows:,} | {report.events_seconds:.1f} s | **{events_rate:,.0f}** | "
            f"{report.seconds:.1f} s | {total_rate:,.0f} | {copy_rate:,.0f} | {events_rate / copy_rate:.2f} |"
        )
    text = "\n".join(table)
    print("\n" + text)
    if not args.no_write:
        write_section(BEGIN, END, text)


if __name__ == "__main__":
    main()
