"""`flowdb synthetic`: every parameter is FlowKit's environment variable, or the matching flag."""

from __future__ import annotations

import argparse
from dataclasses import fields
from functools import partial
from pathlib import Path

import psycopg

from flowdb.cluster import Cluster, find_bindir
from flowdb.rows import scalar
from flowdb.settings import LOOPBACK_HOSTS, Settings
from flowdb.synthetic.config import SyntheticConfig, annotation, parse_value
from flowdb.synthetic.native import NativeLibrary, find_library
from flowdb.tuning import machine_cores

# FlowKit's SQL-generator flag names, accepted as aliases.
ALIASES = {
    "p_out_of_area": ["--out-of-area-probability"],
    "p_relocate": ["--relocation-probability"],
    "disaster_region_pcod": ["--disaster-zone"],
    "disaster_start": ["--disaster-start-date"],
    "disaster_end": ["--disaster-end-date"],
}


def _env_name(name: str) -> str:
    return "SYNTHETIC_DATA_GENERATOR" if name == "generator" else name.upper()


def cmd_synthetic(settings: Settings, args: argparse.Namespace) -> int:
    from flowdb.synthetic.run import generate

    overrides = {
        f.name: parse_value(f.name, annotation(f), getattr(args, f.name))
        for f in fields(SyntheticConfig)
        if getattr(args, f.name) is not None
    }
    config = SyntheticConfig.from_env(**overrides)
    connect = partial(psycopg.connect, settings.url(), autocommit=True)
    with connect() as conn:  # FlowDB must answer before anything else is looked at
        days = scalar(conn.execute("SELECT count(*) FROM etl.available_dates"))
    if args.if_empty and days:
        print(
            f"FlowDB already holds {days} ingested (type, day) pairs; not generating (--if-empty)"
        )
        return 0
    library = None
    if config.generator == "sql":
        native = native_library(settings)
        print(native.note, flush=True)
        library = native.path
    report = generate(
        connect,
        config,
        workers=args.workers,
        progress=lambda m: print(m, flush=True),
        native_library=library,
        operator_files=args.operator_files,
    )
    rate = report.total_rows / report.events_seconds if report.events_seconds else float("inf")
    print(
        f"loaded {report.total_rows:,} events "
        f"({', '.join(f'{t} {n:,}' for t, n in report.rows.items())}) in {report.seconds:.1f} s; "
        f"events {report.events_seconds:.1f} s = {rate:,.0f} events/s",
        flush=True,
    )
    if args.operator_files is not None:
        print(
            f"operator files for the next day in {args.operator_files}; ingest them with "
            f"`flowetl serve --once --config {args.operator_files / 'flowetl.yml'} "
            f"--start {config.start_date}`",
            flush=True,
        )
    return 0


def default_workers() -> int:
    """Connections loading at once: one per core, plus one. A SQL-generator job ends by fsyncing its day (about
    a fifth of its time on a 1 M-row day); the extra job keeps the cores busy meanwhile (S: 12.2 s against
    13.5 s, mean of four runs each, 2026-12-02). The Python generator is neither faster nor slower with it."""
    return machine_cores() + 1


def native_library(settings: Settings) -> NativeLibrary:
    """The SQL generator's native library for this FlowDB: the configured one, or one built into the data
    directory when the cluster is this machine's (the server must be able to read the file)."""
    local = settings.host in LOOPBACK_HOSTS and Cluster(settings).is_initialised()
    build_directory = settings.data_dir / "lib" if local else None
    pg_config = find_bindir(settings) / "pg_config" if local else Path("pg_config")
    return find_library(settings.synthetic_library, build_directory, pg_config)


def add_commands(sub: argparse._SubParsersAction) -> None:
    from flowdb.geography_import import add_command as add_load_geography

    synthetic = sub.add_parser(
        "synthetic",
        help="replace all events with synthetic data (geography, cells, subscribers, events)",
        description="Generate synthetic CDR data. Each flag overrides the environment variable named "
        "in its help; unset ones take FlowKit's defaults.",
    )
    defaults = SyntheticConfig()
    for f in fields(SyntheticConfig):
        flag = "--" + f.name.replace("_", "-")
        synthetic.add_argument(
            flag,
            *ALIASES.get(f.name, []),
            dest=f.name,
            metavar="VALUE",
            help=f"{_env_name(f.name)} (default {getattr(defaults, f.name)})",
        )
    synthetic.add_argument(
        "--workers",
        type=int,
        default=default_workers(),
        help="database connections loading days side by side (default: the number of cores plus one, so "
        "that while one job's commit waits for the disk the others keep every core busy)",
    )
    synthetic.add_argument(
        "--operator-files",
        type=Path,
        metavar="DIR",
        help="also generate the day after the last one and write it to DIR as an operator would deliver it "
        "(one <type>_<YYYYMMDD>.csv.gz per CDR type, a few bad rows included) with the FlowETL "
        "configuration DIR/flowetl.yml that ingests it; that day is not loaded. Operator files an earlier "
        "run left in DIR are removed",
    )
    synthetic.add_argument(
        "--if-empty",
        action="store_true",
        help="do nothing if FlowDB already has ingested data (used by `make up`)",
    )
    synthetic.set_defaults(func=cmd_synthetic)
    add_load_geography(sub)
