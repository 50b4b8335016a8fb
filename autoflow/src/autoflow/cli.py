"""`autoflow`: run notebook workflows for each new date of data FlowAPI offers (docs/autoflow.md).

autoflow                      # = autoflow serve (FlowKit's `python -m autoflow`)
autoflow serve [--once]       # look now, then at each time of workflows.yml's cron schedule
autoflow run                  # look once: run what is due, say what happened
autoflow status [--workflow NAME]   # per workflow and parameters: state, when, why it failed
autoflow check-config [PATH]  # validate workflows.yml (default: $AUTOFLOW_INPUTS_DIR/workflows.yml)

Settings come from the environment (AUTOFLOW_*, FLOWAPI_URL, FLOWAPI_TOKEN; docs/admin-guide.md).
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from autoflow.errors import ConfigError
from autoflow.settings import Settings, configure_logging

if TYPE_CHECKING:
    from autoflow.config import Config
    from autoflow.sensor import Outcome, SensorResult


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="autoflow", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    for name, text in (
        ("serve", "look for new dates now and at each time of the sensor's cron schedule"),
        ("run", "look once: run every workflow that is due, then stop"),
    ):
        command = sub.add_parser(name, help=text)
        command.add_argument(
            "--config",
            type=Path,
            help="workflows.yml (default: $AUTOFLOW_INPUTS_DIR/workflows.yml)",
        )
        command.add_argument(
            "--once", action="store_true", help="look once and stop (what `run` always does)"
        )
        command.add_argument(
            "--no-prefect",
            action="store_true",
            help="run in this process without Prefect (no flow runs recorded)",
        )
        command.add_argument(
            "--latest",
            action="store_true",
            help="only the runs for the newest available date (no backfill of earlier dates)",
        )
    status = sub.add_parser(
        "status", help="per workflow and parameters: state, when, why it failed"
    )
    status.add_argument("--workflow", help="only this workflow")
    check = sub.add_parser("check-config", help="validate workflows.yml")
    check.add_argument(
        "config", nargs="?", type=Path, help="the file (default: in AUTOFLOW_INPUTS_DIR)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command is None:
        args = build_parser().parse_args(["serve"])
    try:
        settings = Settings.from_env()
        configure_logging(settings.log_level)
        if args.command == "status":
            return _status(settings, args.workflow)
        from flowkit_protocol.prefect_settings import prefect_environment

        prefect_environment(settings.home)  # before Prefect is imported (the cron check imports it)
        from autoflow.config import load_config

        config = load_config(args.config or settings.workflows_file)
        if args.command == "check-config":
            print(
                f"{config.path}: OK ({len(config.workflows)} workflow(s), "
                f"{len(config.sensor.workflows)} sensor entr{'y' if len(config.sensor.workflows) == 1 else 'ies'}, "
                f"schedule {config.sensor.schedule or 'none: run once'})"
            )
            return 0
        return _look(
            settings,
            config,
            once=args.once or args.command == "run",
            prefect=not args.no_prefect,
            latest_only=args.latest,
        )
    except ConfigError as exc:
        print(f"autoflow: {exc}", file=sys.stderr)
        return 2


def _print_outcome(outcome: Outcome) -> None:
    day = outcome.parameters.get("reference_date")
    if outcome.state == "success":
        made = ", ".join(p.name for p in outcome.reports)
        print(
            f"{day} {outcome.workflow_name}: success" + (f" (reports: {made})" if made else ""),
            flush=True,
        )
    elif outcome.state == "failed":
        print(f"{day} {outcome.workflow_name}: FAILED: {outcome.detail}", flush=True)
    else:
        print(f"{day} {outcome.workflow_name}: skipped ({outcome.detail})", flush=True)


def _look(
    settings: Settings, config: Config, *, once: bool, prefect: bool, latest_only: bool = False
) -> int:
    from autoflow.runs import RunStore
    from autoflow.sensor import run_sensor
    from autoflow.serve import serve

    settings.make_dirs()
    store = RunStore.open(settings.db_uri, running_timeout=settings.running_timeout)
    # SIGTERM (docker stop) ends the process like Ctrl-C: the run in progress is recorded as interrupted
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))

    def look() -> SensorResult:
        if prefect:
            from autoflow.flows import sensor_with_prefect

            result = sensor_with_prefect(
                config, settings, store, report=_print_outcome, latest_only=latest_only
            )
        else:
            result = run_sensor(
                config, settings, store, report=_print_outcome, latest_only=latest_only
            )
        if result.error:
            print(f"autoflow: {result.error}", file=sys.stderr, flush=True)
        else:
            ran = [o for o in result.outcomes if o.state != "skipped"]
            print(
                f"{len(result.dates)} available date(s); {len(ran)} run(s): "
                f"{len(ran) - len(result.failed)} succeeded, {len(result.failed)} failed; "
                f"{len(result.outcomes) - len(ran)} skipped",
                flush=True,
            )
        return result

    try:
        results = serve(config, look, once=once)
    finally:
        signal.signal(signal.SIGTERM, previous)
        store.close()
    last = results[-1]
    return 1 if last.error or last.failed else 0


def _status(settings: Settings, workflow: str | None) -> int:
    from autoflow.runs import RunStore
    from autoflow.status import render

    store = RunStore.open(settings.db_uri, running_timeout=settings.running_timeout)
    try:
        print(render(store.latest_runs(workflow)))
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
