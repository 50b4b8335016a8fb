"""FlowETL: one 10 M-row calls day as CSV.gz through the whole ingest (every step, every QA check), against a
plain COPY of the same file into a fresh table, measured in the same run; and the QA checks alone, combined
(flowdb.qa) against FlowKit's one query per check.

Usage: uv run python bench/etl.py [--rows 10000000] [--rounds 2] [--qa-rounds 1] [--no-write]

Starts a private FlowDB in a temporary directory (tuned for this machine, as `flowdb start` tunes it), then:

1. the world: `--cells` cells with a location, in service on the day, in `infrastructure.cells` (the QA
   checks count the events they locate);
2. the day's file: `--rows` calls rows (id, outgoing, datetime, duration, msisdn, msisdn_counterpart,
   location_id, imsi, imei, tac) of `--subscribers` subscribers, in time order over the day, 1 % without a
   cell, written by the cluster (`COPY (SELECT ...) TO STDOUT`) and gzipped as it comes (level 1);
3. alternately, `--rounds` times each:
   - **plain COPY**: as FlowETL's role, in one transaction, a new table like `events.calls` and
     `COPY ... FROM STDIN (FORMAT csv, FREEZE, HEADER match)` of the file, decompressed as FlowETL does
     (flowetl.sources.copy_chunks), committed: the fastest honest load of the file, with no checks;
   - **FlowETL**: `pipeline.load_day` as FlowETL's role, as `flowetl load` runs it (sensors without waiting),
     with the default indexes and every QA check; the day's partition is dropped before each round, so each
     is a first load;
4. on the loaded day, the QA checks alone (`--qa-rounds` times each, alternately): combined (flowdb.qa) and
   one query per check as FlowKit runs them; the outcomes must be equal, and must be those the load recorded.

Results (medians) are written into bench/RESULTS.md between markers.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import os
import platform
import shutil
import socket
import statistics
import tempfile
import time
from functools import partial
from pathlib import Path

import psycopg
from psycopg import sql
from qa_checks import compare
from results_file import write_section

from flowdb.cluster import Cluster
from flowdb.qa import day_table
from flowdb.settings import FLOWETL_ROLE, Settings
from flowdb.tuning import machine_cores, machine_memory_bytes
from flowetl import pipeline
from flowetl.config import SourceConfig, parse_config
from flowetl.settings import Settings as EtlSettings
from flowetl.sources import copy_chunks

BEGIN, END = "<!-- etl:begin -->", "<!-- etl:end -->"
HEADING = "## FlowETL (`bench/etl.py`)"
DAY = dt.date(2016, 1, 1)
FIELDS = {
    "id": "TEXT",
    "outgoing": "BOOLEAN",
    "datetime": "TIMESTAMPTZ",
    "duration": "NUMERIC",
    "msisdn": "TEXT",
    "msisdn_counterpart": "TEXT",
    "location_id": "TEXT",
    "imsi": "TEXT",
    "imei": "TEXT",
    "tac": "NUMERIC",
}
# early_qa_wait: the attach waiting for FlowKit's default checks, computed beside the indexes (flowetl.early_checks)
STEPS = ("wait_for_data", "check_not_in_flux", "extract", "add_constraints", "cluster", "add_indexes",
         "analyze", "early_qa_wait", "attach", "qa_checks")  # fmt: skip


def source_config(landing: Path) -> SourceConfig:
    """The calls source as an operator would configure it (defaults: FlowKit's four indexes, no cluster
    field), with sensors that do not wait (`flowetl load` would poll the file once a minute)."""
    config = parse_config(
        {
            "cdr_types": {
                "calls": {
                    "source": {
                        "file": {
                            "path": str(landing / "calls_{{ ds_nodash }}.csv.gz"),
                            "fields": FIELDS,
                        }
                    },
                    "data_present": {"timeout": 0, "poke_interval": 0},
                    "flux_check": {"wait_interval": 0, "poke_interval": 0, "timeout": 0},
                }
            }
        }
    )
    return config.source("calls")


def make_world(su: psycopg.Connection, cells: int) -> None:
    """`cells` cells in service on DAY, with a point (what makes an event locatable)."""
    su.execute(
        """INSERT INTO infrastructure.cells (id, site_id, date_of_first_service, geom_point)
           SELECT 'C' || lpad(to_hex(i), 5, '0'), 'S' || (i / 3), %s::date - 365,
                  ST_SetSRID(ST_MakePoint(80 + (i %% 97) * 0.1, 26 + (i / 97) * 0.05), 4326)
           FROM generate_series(0, %s - 1) i""",
        (DAY, cells),
    )


def write_day(su: psycopg.Connection, path: Path, rows: int, subscribers: int, cells: int) -> None:
    """The day's calls as CSV.gz: made by the cluster, gzipped here as the bytes come."""
    su.execute("SET max_parallel_workers_per_gather = 0")  # one process: the same rows every run
    su.execute("SELECT setseed(0.18)")
    su.execute(
        """CREATE TEMP TABLE bench_subscribers AS
           SELECT i, left(md5('subscriber' || i), 16) AS msisdn,
                  (420010000000000 + i)::text AS imsi,
                  (35000000 + i %% 4000)::text || lpad((i * 7919 %% 100000000)::text, 8, '0') AS imei,
                  35000000 + i %% 4000 AS tac
           FROM generate_series(0, %s - 1) i""",
        (subscribers,),
    )
    su.execute(
        """CREATE TEMP TABLE bench_cells AS
           SELECT i, 'C' || lpad(to_hex(i), 5, '0') AS id FROM generate_series(0, %s - 1) i""",
        (cells,),
    )
    su.execute("ANALYZE bench_subscribers; ANALYZE bench_cells")
    query = sql.SQL(
        """COPY (
             SELECT e.g AS id, e.outgoing, e.datetime, e.duration, a.msisdn, b.msisdn AS msisdn_counterpart,
                    CASE WHEN e.located THEN c.id END AS location_id, a.imsi, a.imei, a.tac
             FROM (SELECT g, random() < 0.5 AS outgoing,
                          {day}::timestamptz + floor((g - 1) * (86400.0 / {rows})) * interval '1 second'
                            AS datetime,
                          floor(-ln(1 - random()) * 90)::int AS duration,
                          floor(random() * {subs})::int AS who, floor(random() * {subs})::int AS other,
                          floor(random() * {cells})::int AS cell, random() >= 0.01 AS located
                   FROM generate_series(1, {rows}) g) e
             JOIN bench_subscribers a ON a.i = e.who
             JOIN bench_subscribers b ON b.i = e.other
             JOIN bench_cells c ON c.i = e.cell
           ) TO STDOUT (FORMAT csv, HEADER)"""
    ).format(
        day=sql.Literal(DAY.isoformat()),
        rows=sql.Literal(rows),
        subs=sql.Literal(subscribers),
        cells=sql.Literal(cells),
    )
    with gzip.open(path, "wb", compresslevel=1) as out, su.cursor().copy(query) as copy:
        for chunk in copy:
            out.write(chunk)


def plain_copy(connect, config: SourceConfig, path: Path) -> tuple[int, float]:
    """Rows and seconds of the plain COPY (create, COPY FREEZE, commit); the table is dropped afterwards."""
    source = config.source
    table = sql.Identifier("etl", "bench_plain_copy")
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv, FREEZE true, HEADER match)").format(
        table, sql.SQL(", ").join(map(sql.Identifier, source.field_names))
    )
    with connect() as conn:
        started = time.perf_counter()
        with conn.transaction():
            conn.execute(
                sql.SQL("CREATE TABLE {} (LIKE events.calls INCLUDING DEFAULTS)").format(table)
            )
            with conn.cursor() as cur:
                with cur.copy(statement) as copy:
                    for chunk in copy_chunks(source, path):
                        copy.write(chunk)
                rows = cur.rowcount
        seconds = time.perf_counter() - started
        conn.execute(sql.SQL("DROP TABLE {}").format(table))
    return rows, seconds


def flowetl_load(connect, su_connect, config: SourceConfig) -> tuple[pipeline.LoadResult, float]:
    """The whole ingest of the day as `flowetl load` runs it; the day's partition is dropped first."""
    with su_connect() as su:
        su.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(day_table("calls", DAY)))
    with connect() as conn:
        started = time.perf_counter()
        result = pipeline.load_day(conn, config, DAY)
        seconds = time.perf_counter() - started
    return result, seconds


def qa_alone(connect, rounds: int) -> dict[str, float]:
    """Seconds of one read of the day, the combined checks and the per-check queries (qa_checks.compare:
    medians of `rounds`, alternating); every run's outcomes must agree with the ones the load recorded."""
    with connect() as conn:
        recorded = dict(
            conn.execute(
                """SELECT type_of_query_or_check, outcome FROM etl.deduped_post_etl_queries
                   WHERE cdr_date = %s AND cdr_type = 'calls'""",
                (DAY,),
            ).fetchall()
        )
    return compare(connect, "calls", DAY, rounds, expected=recorded)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=10_000_000, help="rows of the calls day")
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--cells", type=int, default=3_000)
    parser.add_argument("--rounds", type=int, default=2, help="plain COPYs and loads (median)")
    parser.add_argument(
        "--qa-rounds", type=int, default=1, help="timings of each QA formulation (median)"
    )
    parser.add_argument("--no-write", action="store_true", help="do not update bench/RESULTS.md")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="flowdb-bench-etl-"))
    root.chmod(0o755)
    landing = root / "landing"
    landing.mkdir()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = Settings.from_env(
        {**os.environ, "FLOWDB_DATA_DIR": str(root / "db"), "FLOWDB_PORT": str(port)}
    )
    cluster = Cluster(settings)
    cluster.start()
    su_connect = partial(psycopg.connect, settings.url(), autocommit=True)
    etl_connect = EtlSettings(
        flowdb_port=port, flowdb_password=settings.role_password(FLOWETL_ROLE)
    ).connect
    config = source_config(landing)
    path = landing / f"calls_{DAY:%Y%m%d}.csv.gz"
    copies: list[float] = []
    loads: list[tuple[pipeline.LoadResult, float]] = []
    try:
        with su_connect() as su:
            make_world(su, args.cells)
            started = time.perf_counter()
            write_day(su, path, args.rows, args.subscribers, args.cells)
        print(
            f"{args.rows:,} rows written to {path.name}: {path.stat().st_size / 2**20:,.0f} MiB "
            f"in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        for _ in range(args.rounds):
            rows, seconds = plain_copy(etl_connect, config, path)
            if rows != args.rows:
                raise SystemExit(f"plain COPY loaded {rows:,} rows, not {args.rows:,}")
            copies.append(seconds)
            print(f"plain COPY: {seconds:.1f} s", flush=True)
            result, seconds = flowetl_load(etl_connect, su_connect, config)
            if result.rows != args.rows:
                raise SystemExit(f"FlowETL loaded {result.rows:,} rows, not {args.rows:,}")
            loads.append((result, seconds))
            steps = ", ".join(f"{k} {v:.1f}" for k, v in result.seconds.items())
            print(f"FlowETL load_day: {seconds:.1f} s ({steps})", flush=True)
        qa = qa_alone(su_connect, args.qa_rounds)
        print(f"QA alone: {qa}", flush=True)
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)

    copy_s = statistics.median(copies)
    load_s = statistics.median(s for _, s in loads)
    step_s = {
        step: statistics.median(r.seconds.get(step, 0.0) for r, _ in loads)
        for step in STEPS
        if any(step in r.seconds for r, _ in loads)
    }
    size = f"{args.rows:,} rows"
    lines = [
        f"Measured {dt.date.today()} on {platform.node() or 'this machine'}: {machine_cores()} cores, "
        f"{machine_memory_bytes() / 2**30:.0f} GiB RAM, {platform.platform()}, PostgreSQL 15, "
        f"`uv run python bench/etl.py --rows {args.rows} --rounds {args.rounds} --qa-rounds {args.qa_rounds}`; "
        f"{args.subscribers:,} subscribers, {args.cells:,} cells; medians.",
        "",
        f"| a calls day of {size} as CSV.gz | seconds | ÷ plain COPY |",
        "|---|---|---|",
        f"| plain COPY (new table, FREEZE, one transaction) | {copy_s:.1f} s | 1.00 |",
        f"| **FlowETL ingest, every step and QA check** | **{load_s:.1f} s** | **{load_s / copy_s:.2f}** |",
    ]
    for step, seconds in step_s.items():
        lines.append(f"| &nbsp;&nbsp;{step} | {seconds:.1f} s | {seconds / copy_s:.2f} |")
    lines += [
        "",
        f"The {qa['checks']} QA checks alone on the loaded day, same outcomes as the load recorded:",
        "",
        "| day | rows | checks | one read (`count(*)`) | combined (flowdb.qa) | one query per check (FlowKit) | speed-up |",
        "|---|---|---|---|---|---|---|",
        f"| calls | {qa['rows']:,} | {qa['checks']} | {qa['scan']:.1f} s | **{qa['combined']:.1f} s** | "
        f"{qa['per_check']:.1f} s | {qa['per_check'] / qa['combined']:.1f}x |",
    ]
    text = "\n".join(lines)
    print("\n" + text)
    if not args.no_write:
        write_section(BEGIN, END, text, heading=HEADING)


if __name__ == "__main__":
    main()
