"""`flowetl`: load one day of one CDR type (`flowetl load`) or check a configuration (`flowetl check-config`).

The scheduled and backfill commands come with the orchestrator; `load` runs the same steps in order, here.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Sequence

import psycopg

from flowetl.config import CDR_TYPES, load_config
from flowetl.errors import ConfigError, LoadFailed
from flowetl.pipeline import load_day
from flowetl.settings import Settings


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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = load_config(args.config)
        if args.command == "check-config":
            print(f"{args.config}: OK ({', '.join(config.cdr_types)})")
            return 0
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


if __name__ == "__main__":
    sys.exit(main())
