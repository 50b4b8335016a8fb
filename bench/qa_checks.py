"""QA checks: FlowKit's default checks combined in one statement (flowdb.qa) against the same checks run one
query each as FlowETL runs them, measured in the same run; and what recording them costs `flowdb synthetic`.

Usage: uv run python bench/qa_checks.py [--large-rows 4000000] [--rounds 3] [--no-write]

Starts a private FlowDB in a temporary directory (tuned for this machine, as `flowdb start` tunes it), then:

1. `make demo`'s data (7 days; 200,000 calls rows, 100,000 sms, 40,000 mds, 5,000 topups a day) generated
   with the QA checks (as `flowdb synthetic` runs) and without them (SKIP_TEST_QA_CHECK=true), alternately,
   twice each: the events phase and the whole run;
2. on the first demo day of each type, and on one large calls day (`--large-rows` rows, 200,000 subscribers),
   the combined statement and the one-query-per-check templates, alternately, `--rounds` times each; the
   outcomes must be equal. A plain `count(*)` of the day is the yardstick for one read of it.

Results are written into bench/RESULTS.md between markers.
"""

from __future__ import annotations

import argparse
import datetime as dt
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
from results_file import write_section

from flowdb.cluster import Cluster, find_bindir
from flowdb.qa import QA_CDR_TYPES, day_table, default_outcomes, flowkit_default_outcomes
from flowdb.settings import Settings
from flowdb.synthetic.cli import default_workers
from flowdb.synthetic.config import SyntheticConfig
from flowdb.synthetic.native import build
from flowdb.synthetic.run import generate
from flowdb.tuning import machine_cores, machine_memory_bytes

BEGIN, END = "<!-- qa:begin -->", "<!-- qa:end -->"
DEMO = dict(
    n_days=7, n_subscribers=20_000, n_calls=100_000, n_sms=50_000, n_mds=40_000, n_topups=5_000
)


def timed_value(function, *args):  # type: ignore[no-untyped-def]
    """`function(*args)` and the seconds it took."""
    started = time.perf_counter()
    value = function(*args)
    return value, time.perf_counter() - started


def compare(
    connect, cdr_type: str, day: dt.date, rounds: int, *, expected: dict | None = None
) -> dict[str, float]:
    """Seconds of a plain count, the combined statement and the per-check queries (medians of `rounds`,
    alternating). Every round's outcomes, both ways, must equal `expected` (bench/etl.py: those the load
    recorded); by default the combined statement's, computed once first, which also warms the cache."""
    table = day_table(cdr_type, day)
    with connect() as conn:
        rows = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(table)).fetchone()[0]
        if expected is None:
            expected = default_outcomes(conn, cdr_type, day)
            if expected != flowkit_default_outcomes(conn, cdr_type, day):
                raise SystemExit(f"{cdr_type} {day}: the combined and per-check outcomes differ")
        scan, one, each = [], [], []
        for _ in range(rounds):
            scan.append(
                timed_value(conn.execute, sql.SQL("SELECT count(*) FROM {}").format(table))[1]
            )
            combined, seconds = timed_value(default_outcomes, conn, cdr_type, day)
            one.append(seconds)
            per_check, seconds = timed_value(flowkit_default_outcomes, conn, cdr_type, day)
            each.append(seconds)
            if not combined == per_check == expected:
                raise SystemExit(
                    f"{cdr_type} {day}: the combined, per-check and expected outcomes differ"
                )
    return {
        "rows": rows,
        "checks": len(expected),
        "scan": statistics.median(scan),
        "combined": statistics.median(one),
        "per_check": statistics.median(each),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--large-rows", type=int, default=4_000_000, help="rows of the large calls day"
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="timings of each formulation (median)"
    )
    parser.add_argument("--no-write", action="store_true", help="do not update bench/RESULTS.md")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="flowdb-bench-qa-"))
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
    workers = default_workers()
    runs: dict[bool, list] = {True: [], False: []}
    try:
        for skip in (False, True, False, True):
            config = SyntheticConfig(skip_test_qa_check=skip, **DEMO).validate()
            report = generate(connect, config, workers=workers, native_library=library)
            runs[skip].append(report)
            print(
                f"demo, QA checks {'skipped' if skip else 'recorded'}: events phase "
                f"{report.events_seconds:.1f} s, total {report.seconds:.1f} s",
                flush=True,
            )
        day = config.start_date
        demo = {t: compare(connect, t, day, args.rounds) for t in QA_CDR_TYPES}
        for t, r in demo.items():
            print(f"demo {t} day: {r}", flush=True)
        large_config = SyntheticConfig(
            n_days=1,
            n_subscribers=200_000,
            n_calls=args.large_rows // 2,
            n_sms=0,
            n_mds=0,
            n_topups=0,
            skip_test_qa_check=True,
        ).validate()
        generate(connect, large_config, workers=workers, native_library=library)
        large = compare(connect, "calls", large_config.start_date, args.rounds)
        print(f"large calls day: {large}", flush=True)
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)

    def median(skip: bool, field: str) -> float:
        return statistics.median(getattr(r, field) for r in runs[skip])

    lines = [
        f"Measured {dt.date.today()} on {platform.node() or 'this machine'}: {machine_cores()} cores, "
        f"{machine_memory_bytes() / 2**30:.0f} GiB RAM, {platform.platform()}, PostgreSQL 15, "
        f"`uv run python bench/qa_checks.py --large-rows {args.large_rows} --rounds {args.rounds}`; "
        "medians, warm cache.",
        "",
        "| day | rows | checks | one read (`count(*)`) | combined (flowdb.qa) | one query per check (FlowKit) | speed-up |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, r in [*((f"demo {t}", r) for t, r in demo.items()), ("large calls", large)]:
        lines.append(
            f"| {label} | {r['rows']:,} | {r['checks']} | {r['scan'] * 1000:,.0f} ms | "
            f"**{r['combined'] * 1000:,.0f} ms** | {r['per_check'] * 1000:,.0f} ms | "
            f"{r['per_check'] / r['combined']:.1f}x |"
        )
    per_day = sum(r["combined"] for r in demo.values())
    lines += [
        "",
        "| `flowdb synthetic`, `make demo`'s data (7 days, 345,000 rows a day) | events phase | whole run |",
        "|---|---|---|",
        f"| QA checks recorded (default) | {median(False, 'events_seconds'):.1f} s | {median(False, 'seconds'):.1f} s |",
        f"| SKIP_TEST_QA_CHECK=true | {median(True, 'events_seconds'):.1f} s | {median(True, 'seconds'):.1f} s |",
        "",
        f"The combined checks of one demo day (all four types) take {per_day:.2f} s on one core.",
    ]
    text = "\n".join(lines)
    print("\n" + text)
    if not args.no_write:
        write_section(BEGIN, END, text)


if __name__ == "__main__":
    main()
