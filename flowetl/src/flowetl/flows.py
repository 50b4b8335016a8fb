"""FlowETL's Prefect 3 flows: one day of one CDR type (`ingest_day`), and a range of days (`backfill`).

Each step of `pipeline.load_day` runs as a Prefect task of its own (named as FlowKit's Airflow tasks are), and
a load's heavy steps (extract, constraints, cluster, indexes, ANALYZE) hold a slot of the `postgres_etl` global
concurrency limit, FlowKit's pool, across every flow that uses the same Prefect API (docs/adr/0010).

Prefect reads its settings when it is imported: call `prefect_environment()` first (the CLI does), so Prefect
runs in ephemeral mode under FlowETL's home unless `PREFECT_API_URL` names a server, and sends no telemetry.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from flowkit_protocol.prefect_settings import prefect_environment as shared_prefect_environment

if TYPE_CHECKING:  # Prefect is imported at run time only after prefect_environment()
    from prefect import Flow

POOL_NAME = "postgres_etl"


def prefect_environment(
    env: Mapping[str, str] | None = None, *, home: Path | None = None
) -> dict[str, str]:
    """The Prefect settings FlowETL runs with (flowkit_protocol.prefect_settings), its state under FlowETL's
    home (`FLOWETL_HOME`, default ~/.flowetl). Returns what it set."""
    env = os.environ if env is None else env
    root = home or Path(env.get("FLOWETL_HOME") or Path.home() / ".flowetl")
    return shared_prefect_environment(root, env)


@dataclass(frozen=True)
class DayOutcome:
    cdr_type: str
    day: dt.date
    state: str  # "ingested" or "failed"
    rows: int = 0
    detail: str = ""
    set_aside: int = 0  # bad rows quarantined and left out of an ingested day


def _ensure_pool(slots: int) -> None:
    """The `postgres_etl` global concurrency limit exists with `slots` slots."""
    from prefect import get_client
    from prefect.client.schemas.actions import (
        GlobalConcurrencyLimitCreate,
        GlobalConcurrencyLimitUpdate,
    )
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            current = client.read_global_concurrency_limit_by_name(POOL_NAME)
        except ObjectNotFound:
            client.create_global_concurrency_limit(
                GlobalConcurrencyLimitCreate(name=POOL_NAME, limit=slots)
            )
            return
        if current.limit != slots or not current.active:
            client.update_global_concurrency_limit(
                POOL_NAME, GlobalConcurrencyLimitUpdate(limit=slots, active=True)
            )


class _PrefectSteps:
    """Runs each pipeline step as a Prefect task (no result caching: steps change the database), and holds
    one slot of the `postgres_etl` limit from the first heavy step to the last: a load's heavy steps run one
    after another, so this is FlowKit's pool (heavy tasks at once) at one acquisition per load, where one per
    step cost Prefect 1-2 s each."""

    def __init__(self) -> None:
        self._slot = ExitStack()
        self._holding = False

    def __call__(self, name: str, step: Callable[[], object]) -> object:
        from prefect import task
        from prefect.cache_policies import NO_CACHE
        from prefect.concurrency.sync import concurrency

        from flowetl.pipeline import POOL_STEPS

        if name in POOL_STEPS and not self._holding:
            self._slot.enter_context(concurrency(POOL_NAME, occupy=1))
            self._holding = True
        elif name not in POOL_STEPS and self._holding:
            self.release()
        return task(name=name, cache_policy=NO_CACHE, persist_result=False)(step)()

    def release(self) -> None:
        self._slot.close()
        self._holding = False


def ingest_day_flow() -> Flow[[str, str, dt.date], DayOutcome]:
    """The `ingest_day` flow (built on first use, after `prefect_environment`)."""
    from prefect import flow

    from flowetl.config import load_config
    from flowetl.errors import LoadFailed
    from flowetl.pipeline import load_day
    from flowetl.settings import Settings

    @flow(name="flowetl-ingest-day", flow_run_name="{cdr_type}-{day}", persist_result=False)
    def ingest_day(config_path: str, cdr_type: str, day: dt.date) -> DayOutcome:
        source = load_config(config_path).source(cdr_type)
        steps = _PrefectSteps()
        try:
            with Settings.from_env().connect() as conn:
                result = load_day(conn, source, day, run_step=steps)
        except LoadFailed as failure:  # recorded in etl.etl_records by load_day
            return DayOutcome(cdr_type, day, "failed", detail=str(failure))
        finally:
            steps.release()
        return DayOutcome(
            cdr_type, day, "ingested", rows=result.rows, set_aside=sum(result.set_aside.values())
        )

    return ingest_day


def days(start: dt.date, end: dt.date) -> list[dt.date]:
    """Every day from `start` to `end`, both included."""
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


def backfill(
    config_path: str,
    cdr_types: Iterable[str],
    start: dt.date,
    end: dt.date,
    *,
    pool_slots: int,
    report: Callable[[DayOutcome], None] | None = None,
) -> list[DayOutcome]:
    """`ingest_day` for every day in [start, end] and every type, one after another (days in order); each
    outcome is reported as it comes."""
    _ensure_pool(pool_slots)
    ingest_day = ingest_day_flow()
    outcomes = []
    for day in days(start, end):
        for cdr_type in cdr_types:
            outcome = ingest_day(config_path, cdr_type, day)
            outcomes.append(outcome)
            if report is not None:
                report(outcome)
    return outcomes
