"""What differential privacy costs on the synthetic disaster scenario, next to the >15 redaction rule.

Usage: uv run python bench/privacy.py [--draws 200] [--no-write]

Starts a private FlowDB and Redis (as the other bench scripts), generates `make demo`'s synthetic data (the
Makefile's DEMO_ENV: 7 days from 2016-01-01, 20,000 subscribers, admin2 SYN.4.2_1 emptied from 2016-01-05;
any N_* / P_* / DISASTER_* variable in the environment wins, as for `make demo`) and, for each count-type
query at admin2 on the day before the disaster (2016-01-04) and its first day (2016-01-05), reports:

- the median relative error of the released admin2 counts on the day before, |released − true| / true over
  every (unit, draw) whose true count is positive, where `true` is the exact, unbounded count (so the bias of
  the contribution bounding is part of the error);
- whether the disaster region's drop is detected: its released count on the disaster day below half its
  released count the day before, as the share of draws where it is; and, as the price, the share of the other
  regions (flows: pairs not touching the disaster region) with a true count above 15 the day before that show
  such a drop in the released counts (false drops; some may be real changes, as the >15 row shows);

for the >15 rule (one release: a region resting on 15 or fewer subscribers is withheld, and an analyst reads a
withheld row as "15 or fewer", i.e. as a drop) and for epsilon 0.1, 0.5, 1 and 2 per query. Each DP release
is the exact bounded counts of the query (`DPCounts.exact_rows`, what the server computes) with `--draws`
independent draws of the server's own noise (`mechanism.noisy_counts`), so the figures are those of the
server's releases. Detecting a drop reads two releases (two days), so it spends twice the query's epsilon.
Results are written into bench/RESULTS.md between markers.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import psycopg
from results_file import write_section

from flowdb.cluster import Cluster
from flowdb.settings import Settings as FlowDBSettings
from flowdb.synthetic.config import SyntheticConfig
from flowdb.synthetic.run import generate
from flowdb.testing import free_port, start_redis
from flowdb.tuning import machine_cores, machine_memory_bytes
from flowmachine.core.context import Context
from flowmachine.core.dp.mechanism import laplace_scale, noisy_counts
from flowmachine.core.dp.queries import DPCounts, dp_release_of
from flowmachine.core.query import Query
from flowmachine.core.settings import Settings
from flowmachine.core.spatial_unit import make_spatial_unit
from flowmachine.features.location.flows import Flows
from flowmachine.features.location.location_event_counts import LocationEventCounts
from flowmachine.features.location.spatial_aggregate import SpatialAggregate
from flowmachine.features.location.total_network_objects import TotalNetworkObjects
from flowmachine.features.location.unique_subscriber_counts import UniqueSubscriberCounts
from flowmachine.features.subscriber.daily_location import daily_location

BEGIN, END = "<!-- privacy:begin -->", "<!-- privacy:end -->"
HEADING = "## Differential privacy: what it costs (`bench/privacy.py`)"

EPSILONS = (0.1, 0.5, 1.0, 2.0)
# `make demo`'s synthetic data (Makefile DEMO_ENV).
DEMO_ENV = {
    "N_DAYS": "7",
    "N_SUBSCRIBERS": "20000",
    "N_CALLS": "100000",
    "N_SMS": "50000",
    "N_MDS": "40000",
    "N_TOPUPS": "5000",
    "DISASTER_REGION_PCOD": "SYN.4.2_1",
    "DISASTER_START": "2016-01-05",
    "DISASTER_END": "2016-01-08",
}
DROP = 0.5  # a drop: the disaster day's count below half the day before's

Key = tuple[Any, ...]


@dataclass(frozen=True)
class Case:
    """One query kind at admin2 for one day (flows: from the day before to that day)."""

    name: str
    make: Callable[[dt.date, bool], Query]  # (day, redact) -> FlowMachine's aggregate
    key: tuple[str, ...]  # the columns naming a unit (or pair)

    def region_key(self, pcod: str) -> Key:
        return (pcod,) * len(self.key)


def cases() -> list[Case]:
    admin2 = make_spatial_unit("admin2")

    def window(day: dt.date) -> tuple[str, str]:
        return day.isoformat(), (day + dt.timedelta(days=1)).isoformat()

    return [
        Case(
            "spatial_aggregate (daily location)",
            lambda d, r: SpatialAggregate(daily_location(d.isoformat(), admin2), redact=r),
            ("pcod",),
        ),
        Case(
            "unique_subscriber_counts",
            lambda d, r: UniqueSubscriberCounts(*window(d), admin2, redact=r),
            ("pcod",),
        ),
        Case(
            "location_event_counts (day)",
            lambda d, r: LocationEventCounts(*window(d), admin2, interval="day", redact=r),
            ("pcod",),
        ),
        Case(
            "total_network_objects (day)",
            lambda d, r: TotalNetworkObjects(*window(d), admin2, total_by="day", redact=r),
            ("pcod",),
        ),
        Case(
            "flows (day before → day)",
            lambda d, r: Flows(
                daily_location((d - dt.timedelta(days=1)).isoformat(), admin2),
                daily_location(d.isoformat(), admin2),
                redact=r,
            ),
            ("pcod_from", "pcod_to"),
        ),
    ]


def counts(ctx: Context, query: Query, key: tuple[str, ...]) -> dict[Key, int]:
    frame = query.get_dataframe(ctx)
    return {tuple(row[c] for c in key): int(row["value"]) for _, row in frame.iterrows()}


def bounded_counts(ctx: Context, release: DPCounts, key: tuple[str, ...]) -> dict[Key, int]:
    """The exact bounded counts of every key of the release (what the noise is added to)."""
    statement = release.exact_rows(ctx)
    with ctx.pool.connection() as conn:
        rows = conn.execute(statement).fetchall()
    at = {c: release.column_names.index(c) for c in (*key, "value")}
    return {tuple(r[at[c]] for c in key): int(r[at["value"]]) for r in rows}


@dataclass
class Row:
    case: str
    rule: str
    scale: str
    median_error: float
    published: str
    detected: float
    false_drops: float
    before: str
    after: str


def _drop(before: float, after: float) -> bool:
    return before > 0 and after < DROP * before


def measure(
    ctx: Context, case: Case, before_day: dt.date, day: dt.date, region: str, draws: int
) -> list[Row]:
    settings = ctx.settings
    truth = counts(ctx, case.make(before_day, False), case.key)
    region_key = case.region_key(region)
    truth_after = counts(ctx, case.make(day, False), case.key)
    rows: list[Row] = []

    # the >15 rule: one release; a withheld row reads as "15 or fewer" (0 for the drop test)
    red_before = counts(ctx, case.make(before_day, True), case.key)
    red_after = counts(ctx, case.make(day, True), case.key)
    positive = [k for k, v in truth.items() if v > 0]
    errors = [abs(red_before[k] - truth[k]) / truth[k] for k in positive if k in red_before]
    # the other regions (pairs not touching the disaster region), where a true count > 15 could drop
    others = [k for k in positive if region not in k and truth[k] > 15]
    rows.append(
        Row(
            case.name,
            ">15 redaction",
            "–",
            statistics.median(errors) if errors else float("nan"),
            f"{len(red_before)}/{len(positive)} rows with data",
            float(_drop(red_before.get(region_key, 0), red_after.get(region_key, 0))),
            sum(_drop(red_before.get(k, 0), red_after.get(k, 0)) for k in others)
            / max(len(others), 1),
            str(red_before.get(region_key, "withheld")),
            str(red_after.get(region_key, "withheld (≤15)")),
        )
    )

    for epsilon in EPSILONS:
        release_before = dp_release_of(
            case.make(before_day, True), epsilon=epsilon, settings=settings
        )
        release_after = dp_release_of(case.make(day, True), epsilon=epsilon, settings=settings)
        exact_before = bounded_counts(ctx, release_before, case.key)
        exact_after = bounded_counts(ctx, release_after, case.key)
        keys_before, keys_after = list(exact_before), list(exact_after)
        sens = release_before.sensitivity
        errs: list[float] = []
        detected = false = checked = 0
        shown_before = shown_after = 0
        for _ in range(draws):
            noisy_b = dict(
                zip(
                    keys_before,
                    noisy_counts(
                        [exact_before[k] for k in keys_before], sensitivity=sens, epsilon=epsilon
                    ),
                    strict=True,
                )
            )
            noisy_a = dict(
                zip(
                    keys_after,
                    noisy_counts(
                        [exact_after[k] for k in keys_after], sensitivity=sens, epsilon=epsilon
                    ),
                    strict=True,
                )
            )
            errs.extend(abs(noisy_b.get(k, 0) - truth[k]) / truth[k] for k in positive)
            detected += _drop(noisy_b[region_key], noisy_a[region_key])
            for k in others:
                checked += 1
                false += _drop(noisy_b[k], noisy_a[k])
            shown_before, shown_after = noisy_b[region_key], noisy_a[region_key]
        rows.append(
            Row(
                case.name,
                f"ε = {epsilon:g}",
                f"{laplace_scale(sens, epsilon):g} (Δ={sens})",
                statistics.median(errs),
                f"all {len(keys_before)} keys",
                detected / draws,
                false / max(checked, 1),
                f"{exact_before[region_key]} → e.g. {shown_before}",
                f"{exact_after[region_key]} → e.g. {shown_after}",
            )
        )
    print(
        f"  {case.name}: disaster region {truth.get(region_key, 0)} -> "
        f"{truth_after.get(region_key, 0)} (true counts)",
        flush=True,
    )
    return rows


def format_table(rows: list[Row], header: str) -> str:
    lines = [
        header,
        "",
        "| query (admin2) | release | noise scale | median relative error | rows | disaster drop "
        "detected | false drops elsewhere | disaster region, day before | disaster day |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.case} | {r.rule} | {r.scale} | {100 * r.median_error:.2f} % | {r.published} | "
            f"{100 * r.detected:.0f} % | {100 * r.false_drops:.1f} % | {r.before} | {r.after} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--draws", type=int, default=200, help="noise draws per epsilon (200)")
    parser.add_argument("--no-write", action="store_true", help="do not update bench/RESULTS.md")
    args = parser.parse_args()

    env = {
        **DEMO_ENV,
        **{k: v for k, v in os.environ.items() if k.startswith(("N_", "P_", "DISASTER_"))},
    }
    config = SyntheticConfig.from_env(env)
    if config.disaster_region_pcod is None or config.disaster_start is None:
        raise SystemExit("bench/privacy.py needs a disaster (DISASTER_REGION_PCOD, _START, _END)")
    day = config.disaster_start
    before_day = day - dt.timedelta(days=1)

    root = Path(tempfile.mkdtemp(prefix="privacy-bench-"))
    root.chmod(0o755)
    port = free_port()
    db_settings = FlowDBSettings.from_env(
        {**os.environ, "FLOWDB_DATA_DIR": str(root / "db"), "FLOWDB_PORT": str(port)}
    )
    cluster = Cluster(db_settings)
    redis_proc = None
    rows: list[Row] = []
    started = time.perf_counter()
    try:
        cluster.start()
        redis_proc, redis_port = start_redis(root / "redis")
        connect = partial(psycopg.connect, db_settings.url(), autocommit=True)
        print(
            f"== generating {config.n_days} days, {config.n_subscribers:,} subscribers, disaster in "
            f"{config.disaster_region_pcod} from {config.disaster_start}",
            flush=True,
        )
        report = generate(connect, config, workers=machine_cores(), progress=lambda m: None)
        fm_settings = Settings(
            flowdb_host="127.0.0.1",
            flowdb_port=port,
            flowdb_password=db_settings.role_password("flowmachine"),
            redis_host="127.0.0.1",
            redis_port=redis_port,
            release_mode="differential_privacy",
        )
        with Context.open(fm_settings) as ctx:
            for case in cases():
                print(f"== {case.name}", flush=True)
                rows.extend(
                    measure(ctx, case, before_day, day, config.disaster_region_pcod, args.draws)
                )
    finally:
        if redis_proc is not None:
            redis_proc.terminate()
            redis_proc.wait(timeout=10)
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)

    header = (
        f"Measured {dt.date.today()} on {platform.node()}: {machine_cores()} cores, "
        f"{machine_memory_bytes() / 2**30:.0f} GiB RAM, PostgreSQL 15, `uv run python bench/privacy.py "
        f"--draws {args.draws}` ({time.perf_counter() - started:.0f} s). Data: `make demo`'s synthetic "
        f"scenario, {config.n_days} days, {config.n_subscribers:,} subscribers, "
        f"{report.total_rows:,} event rows, {config.n_admin2} admin2 regions; disaster region "
        f"{config.disaster_region_pcod}, day before {before_day}, disaster day {day}. Contribution "
        f"bounds (the sensitivity Δ): {fm_settings.dp_max_units_per_subscriber} units "
        "(unique_subscriber_counts) or (cell, day) pairs (total_network_objects) per subscriber, "
        f"{fm_settings.dp_max_events_per_subscriber} events per subscriber (location_event_counts), one "
        "location or pair (spatial_aggregate, flows of daily locations). Median relative error: over the "
        "25 regions (flows: the pairs with data) on the day before, and the draws."
    )
    text = format_table(rows, header)
    print("\n" + text)
    if not args.no_write:
        write_section(BEGIN, END, text, heading=HEADING)


if __name__ == "__main__":
    main()
