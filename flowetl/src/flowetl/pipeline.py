"""One (cdr_type, day) through every step in FlowKit's order, without an orchestrator.

    wait_for_data -> check_not_in_flux -> extract -> add_constraints -> cluster -> add_indexes -> analyze
    -> attach (+ records) -> QA checks

FlowKit's default QA checks are computed from the end of `cluster` on a second connection, beside the indexes
and ANALYZE (flowetl.early_checks); the attach waits for them and the `qa_checks` step records them.

Each step is a plain function of (conn, config, day) in its own module, so an orchestrator can run them as
separate tasks; `load_day` is the reference sequence (the `flowetl load` command). It holds a session advisory
lock on the day while it runs, drops the leftovers of an earlier interrupted run first, and on any failure
records it (etl.etl_records 'failed', etl.quarantine) and drops what it made: the day's previous partition,
if any, is untouched.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import psycopg

from flowdb.rows import scalar
from flowetl import attach, extract, records, sources, tables
from flowetl.config import SourceConfig
from flowetl.early_checks import EarlyDefaultChecks
from flowetl.errors import LoadFailed

log = logging.getLogger(__name__)

ETL_LOCK = 0x45544C  # advisory-lock namespace: one load per (cdr_type, day) at a time

QACheck = Callable[[psycopg.Connection, SourceConfig, dt.date], None]
# How a step is run: `run_step(name, step)` calls `step()` and returns its result; an orchestrator passes one
# that runs each step as a task of its own (flowetl.flows).
StepRunner = Callable[[str, Callable[[], object]], object]
# The steps FlowKit runs in its `postgres_etl` pool: the heavy ones, limited together across loads.
POOL_STEPS = frozenset({"extract", "add_constraints", "cluster", "add_indexes", "analyze"})


def run_directly(name: str, step: Callable[[], object]) -> object:
    return step()


@dataclass
class LoadResult:
    cdr_type: str
    day: dt.date
    rows: int = 0
    set_aside: dict[str, int] = field(default_factory=dict)
    leftovers_dropped: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


class StepFailed(LoadFailed):
    """A step failed for a reason other than the input (e.g. the database went away)."""

    def __init__(self, step: str, detail: str) -> None:
        super().__init__(detail, reason="error")
        self.step = step


def run_qa_checks(
    conn: psycopg.Connection,
    config: SourceConfig,
    day: dt.date,
    *,
    defaults: Mapping[str, str | None] | None = None,
) -> None:
    """The day's QA checks, recorded in etl.post_etl_queries (flowdb.qa: FlowKit's defaults in one statement,
    unless given as `defaults`, and the templates of `config.qa_check_paths`). Checks describe the data; as in
    FlowKit they never fail a load: a check that fails is reported and left without an outcome."""
    from flowdb.qa import run_qa_checks as run_checks

    try:
        result = run_checks(
            conn,
            config.cdr_type,
            day,
            extra_directories=config.qa_check_paths,
            extra_macros=dict(config.additional_macros),
            defaults=defaults,
        )
    except (psycopg.Error, ValueError) as exc:  # ValueError: two checks of one name, a bad macro
        log.warning("QA checks of %s %s failed: %s", config.cdr_type, day, exc)
        return
    for name, error in result.errors.items():
        log.warning("QA check %s of %s %s failed: %s", name, config.cdr_type, day, error)


def load_day(
    conn: psycopg.Connection,
    config: SourceConfig,
    day: dt.date,
    *,
    qa: QACheck | None = run_qa_checks,
    sleep: Callable[[float], None] = time.sleep,
    progress: Callable[[str], None] | None = None,
    run_step: StepRunner = run_directly,
) -> LoadResult:
    """Load `day` of `config.cdr_type`; raise LoadFailed (recorded) if it cannot. `conn` is autocommit."""
    result = LoadResult(config.cdr_type, day)
    name = tables.name(config.cdr_type, day)
    key = zlib.crc32(name.encode()) & 0x7FFFFFFF
    if not scalar(conn.execute("SELECT pg_try_advisory_lock(%s, %s)", (ETL_LOCK, key))):
        raise StepFailed("load", f"another load of {name} is running")
    step = "cleanup"
    early: EarlyDefaultChecks | None = None
    computed: dict[str, Mapping[str, str | None] | None] = {"defaults": None}
    try:
        result.leftovers_dropped = records.cleanup(conn, config.cdr_type, day)
        steps: list[tuple[str, Callable[[], object]]] = [
            ("wait_for_data", lambda: sources.wait_for_data(conn, config, day, sleep=sleep)),
            (
                "check_not_in_flux",
                lambda: sources.check_not_in_flux(conn, config, day, sleep=sleep),
            ),
            ("extract", lambda: extract.extract(conn, config, day)),
            ("add_constraints", lambda: attach.add_constraints(conn, config, day)),
            ("cluster", lambda: attach.cluster(conn, config, day)),
            ("add_indexes", lambda: attach.add_indexes(conn, config, day)),
            ("analyze", lambda: attach.analyze(conn, config, day)),
            ("attach", lambda: attach.attach(conn, config, day)),
        ]
        if qa is run_qa_checks:
            # FlowKit's default checks run beside the indexes (flowetl.early_checks), recorded after the attach.
            steps.append(
                (
                    "qa_checks",
                    lambda: run_qa_checks(conn, config, day, defaults=computed["defaults"]),
                )
            )
        elif qa is not None:
            steps.append(("qa_checks", lambda: qa(conn, config, day)))
        for step, run in steps:
            started = time.monotonic()
            if step == "attach" and early is not None:
                computed["defaults"] = early.wait()  # the attach renames the table they read
                result.seconds["early_qa_wait"] = time.monotonic() - started
                started = time.monotonic()
            if progress is not None:
                progress(step)
            outcome = run_step(step, run)
            result.seconds[step] = time.monotonic() - started
            if step == "cluster" and qa is run_qa_checks:
                early = EarlyDefaultChecks(conn, config.cdr_type, day)
            if isinstance(outcome, extract.ExtractResult):
                result.rows = outcome.rows
            elif isinstance(outcome, attach.ConstraintResult):
                result.set_aside = outcome.set_aside
                result.rows -= sum(outcome.set_aside.values())
        return result
    except LoadFailed as failure:
        if failure.step == "load":
            failure.step = step
        _stop(early)
        _fail(conn, config, day, failure)
        raise
    except psycopg.Error as exc:
        step_failed = StepFailed(step, str(exc).strip().splitlines()[0] if str(exc) else repr(exc))
        _stop(early)
        _fail(conn, config, day, step_failed)
        raise step_failed from exc
    finally:
        _stop(early)
        if not conn.closed and not conn.broken:
            conn.execute("SELECT pg_advisory_unlock(%s, %s)", (ETL_LOCK, key))


def _stop(early: EarlyDefaultChecks | None) -> None:
    """Let go of the extract table: the early checks are cancelled unless done (before a cleanup drops it)."""
    if early is not None:
        early.cancel()


def _fail(
    conn: psycopg.Connection, config: SourceConfig, day: dt.date, failure: LoadFailed
) -> None:
    if conn.closed or conn.broken:
        return  # the next run drops the leftovers; nothing can be recorded now
    records.cleanup(conn, config.cdr_type, day)
    records.record_failure(conn, config.cdr_type, day, failure)
