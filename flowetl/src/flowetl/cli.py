"""`flowetl`: load CDR days into FlowDB and say how they went.

flowetl run --config etl.yml --cdr-type calls --start 2016-01-08 --end 2016-01-10   # backfill (Prefect)
flowetl serve --config etl.yml --interval 3600    # every interval, load each day that has landed
flowetl status [--start D] [--end D]              # per day and type: state, why it failed, QA checks
flowetl load --config etl.yml --cdr-type calls --date 2016-01-08   # one day, the steps in order, no Prefect
flowetl check-config --config etl.yml
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

import psycopg

from flowetl.config import CDR_TYPES, load_config
from flowetl.errors import ConfigError, LoadFailed
from flowetl.pipeline import load_day
from flowetl.settings import Settings

if TYPE_CHECKING:
    from flowetl.flows import DayOutcome


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flowetl", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    load = sub.add_parser("load", help="load one day of one CDR type into FlowDB")
    load.add_argument("--config", required=True, help="the YAML configuration file")
    load.add_argument("--cdr-type", required=True, choices=CDR_TYPES)
    load.add_argument("--date", required=True, type=_date, help="the day (YYYY-MM-DD)")
    check = sub.add_parser("check-config", help="validate a configuration file")
    check.add_argument("--config", required=True)
    run = sub.add_parser("run", help="load a range of days (a backfill), orchestrated by Prefect")
    run.add_argument("--config", required=True, help="the YAML configuration file")
    run.add_argument(
        "--cdr-type",
        action="append",
        choices=CDR_TYPES,
        help="a CDR type (repeat; default: every one configured)",
    )
    run.add_argument("--start", required=True, type=_date, help="the first day (YYYY-MM-DD)")
    run.add_argument("--end", type=_date, help="the last day, included (default: the first)")
    serve = sub.add_parser("serve", help="load each new day as it lands, on a schedule (Prefect)")
    serve.add_argument("--config", required=True, help="the YAML configuration file")
    serve.add_argument("--cdr-type", action="append", choices=CDR_TYPES)
    serve.add_argument("--start", required=True, type=_date, help="the first day to look for")
    serve.add_argument(
        "--interval", type=int, default=3600, help="seconds between looks (default 3600)"
    )
    serve.add_argument(
        "--once", action="store_true", help="look once, load what has landed, and stop"
    )
    status = sub.add_parser("status", help="per day and type: ingested, failed and why, QA checks")
    status.add_argument("--start", type=_date)
    status.add_argument("--end", type=_date)
    status.add_argument("--cdr-type", action="append", choices=CDR_TYPES)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "status":
        return _status(args)
    try:
        config = load_config(args.config)
        if args.command == "check-config":
            print(f"{args.config}: OK ({', '.join(config.cdr_types)})")
            return 0
        if args.command in ("run", "serve"):
            types = args.cdr_type or list(config.cdr_types)
            for cdr_type in types:
                config.source(cdr_type)  # configured?
            settings = Settings.from_env()
            if args.command == "run":
                return _run(args, types, settings)
            return _serve(args, types, settings)
        source = config.source(args.cdr_type)
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"flowetl: {exc}", file=sys.stderr)
        return 2
    try:
        with settings.connect() as conn:
            result = load_day(
                conn,
                source,
                args.date,
                progress=lambda step: print(f"{args.cdr_type} {args.date}: {step}", flush=True),
            )
    except LoadFailed as exc:
        print(f"flowetl: {args.cdr_type} {args.date} failed at {exc}", file=sys.stderr)
        return 1
    except psycopg.OperationalError as exc:
        print(f"flowetl: cannot reach FlowDB: {exc}", file=sys.stderr)
        return 1
    aside = sum(result.set_aside.values())
    print(
        f"{args.cdr_type} {args.date}: ingested {result.rows} rows"
        + (f", {aside} bad rows set aside (etl.quarantine)" if aside else "")
    )
    return 0


def _print_outcome(outcome: DayOutcome) -> None:
    if outcome.state == "ingested":
        aside = (
            f", {outcome.set_aside} bad rows set aside (etl.quarantine)"
            if outcome.set_aside
            else ""
        )
        print(f"{outcome.day} {outcome.cdr_type}: ingested {outcome.rows} rows{aside}", flush=True)
    else:
        print(f"{outcome.day} {outcome.cdr_type}: FAILED: {outcome.detail}", flush=True)


def _run(args: argparse.Namespace, types: list[str], settings: Settings) -> int:
    from flowetl.flows import backfill, prefect_environment

    end = args.end or args.start
    if end < args.start:
        print("flowetl: --end is before --start", file=sys.stderr)
        return 2
    prefect_environment()
    outcomes = backfill(
        args.config, types, args.start, end, pool_slots=settings.pool_slots, report=_print_outcome
    )
    failed = sum(o.state != "ingested" for o in outcomes)
    print(f"{len(outcomes) - failed} of {len(outcomes)} loads ingested")
    return 1 if failed else 0


def _serve(args: argparse.Namespace, types: list[str], settings: Settings) -> int:
    from flowetl.flows import prefect_environment
    from flowetl.serve import serve

    prefect_environment()
    outcomes = serve(
        args.config,
        types,
        args.start,
        settings,
        interval=args.interval,
        once=args.once,
        report=_print_outcome,
    )
    if not outcomes:
        print(f"nothing to load: no day from {args.start} on has landed and is waiting")
    return 0


def _status(args: argparse.Namespace) -> int:
    from flowetl.status import day_statuses, render

    try:
        settings = Settings.from_env()
        with settings.connect() as conn:
            statuses = day_statuses(conn, args.start, args.end, args.cdr_type)
    except ConfigError as exc:
        print(f"flowetl: {exc}", file=sys.stderr)
        return 2
    except psycopg.OperationalError as exc:
        print(f"flowetl: cannot reach FlowDB: {exc}", file=sys.stderr)
        return 1
    print(render(statuses))
    return 0


if __name__ == "__main__":
    sys.exit(main())
