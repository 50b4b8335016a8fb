"""The available-dates sensor (FlowKit's), one look: which (workflow, parameters) runs are due, and running them.

1. The available dates: the union over the configured CDR types (every type when none is configured) of
   FlowAPI's available dates, sorted; a configured type FlowAPI has no dates for only gives a warning.
2. Per sensor entry: the dates from `earliest_date` on whose whole date stencil is available.
3. Per such date: the parameters are the entry's plus `reference_date` and `date_ranges` (the stencil's
   half-open [start, end) pairs for the date).
4. Per run: skipped when its newest `workflow_runs` row is `success`, or a `running` row that is not stale;
   else recorded `running`, run, recorded `success` or `failed` with the error. A failed run (a notebook
   raising, FlowAPI down, a token refused) does not stop the others; the next look runs it again.
"""

from __future__ import annotations

import datetime as dt
import logging
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autoflow.config import Config, SensorWorkflow, WorkflowSpec
from autoflow.errors import DatesUnavailable, WorkflowFailed
from autoflow.runs import RunRecord, RunState, RunStore
from autoflow.settings import Settings
from autoflow.workflow import RunResult, run_tag, run_workflow

log = logging.getLogger("autoflow.sensor")

FetchDates = Callable[[Settings, Sequence[str] | None], list[dt.date]]
RunOne = Callable[[WorkflowSpec, Mapping[str, Any]], RunResult]


def fetch_available_dates(settings: Settings, cdr_types: Sequence[str] | None) -> list[dt.date]:
    """FlowAPI's available dates, the union over `cdr_types` (all when None), sorted; DatesUnavailable when
    FlowAPI cannot be reached or refuses the token."""
    import flowclient
    from flowclient.errors import FlowclientConnectionError

    if not settings.flowapi_token:
        raise DatesUnavailable("FLOWAPI_TOKEN is not set (nor /run/secrets/FLOWAPI_TOKEN)")
    connection = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter(
                "ignore"
            )  # plain http: flowclient's NOT SECURE warning, once per look
            connection = flowclient.connect(
                url=settings.flowapi_url,
                token=settings.flowapi_token,
                ssl_certificate=settings.ssl_certificate or True,
            )
        by_type = flowclient.get_available_dates(connection=connection)
    except (FlowclientConnectionError, FileNotFoundError, OSError, ValueError) as exc:
        raise DatesUnavailable(
            f"cannot get the available dates from FlowAPI at {settings.flowapi_url}: {exc}"
        ) from None
    finally:
        if connection is not None:
            connection.close()
    return union_of_dates(by_type, cdr_types)


def union_of_dates(
    by_type: Mapping[str, Iterable[str]], cdr_types: Sequence[str] | None
) -> list[dt.date]:
    """The sorted union of the dates of `cdr_types` (all types when None); a warning for a type with none."""
    if cdr_types is None:
        cdr_types = list(by_type)
    else:
        missing = sorted(set(cdr_types) - set(by_type))
        if missing:
            message = f"No data available for CDR types {', '.join(missing)}"
            log.warning(message)
            warnings.warn(message, stacklevel=2)
    days = {dt.date.fromisoformat(d) for t in cdr_types for d in by_type.get(t, ())}
    return sorted(days)


def reference_dates(entry: SensorWorkflow, available: Sequence[dt.date]) -> list[dt.date]:
    """The available dates from `earliest_date` on whose whole stencil is available."""
    have = set(available)
    return [
        d
        for d in available
        if (entry.earliest_date is None or d >= entry.earliest_date)
        and entry.date_stencil.available(d, have)
    ]


@dataclass(frozen=True)
class PlannedRun:
    workflow: WorkflowSpec
    parameters: dict[str, Any]

    @property
    def tag(self) -> str:
        return run_tag(self.workflow.name, self.parameters)


def plan_runs(
    config: Config, available: Sequence[dt.date], *, latest_only: bool = False
) -> list[PlannedRun]:
    """Every (workflow, parameters) the sensor's entries ask for on these dates, in configuration order; with
    `latest_only`, only those whose reference date is the newest available date (no backfill)."""
    runs = []
    newest = max(available, default=None)
    for entry in config.sensor.workflows:
        spec = config.workflows[entry.workflow_name]
        for day in reference_dates(entry, available):
            if latest_only and day != newest:
                continue
            params = dict(entry.parameters)
            params["reference_date"] = day
            params["date_ranges"] = entry.date_stencil.date_ranges(day)
            runs.append(PlannedRun(spec, params))
    return runs


@dataclass(frozen=True)
class Outcome:
    workflow_name: str
    parameters: dict[str, Any]
    state: str  # "success", "failed" or "skipped"
    detail: str = ""  # the error of a failed run, why a run was skipped
    reports: tuple[Path, ...] = ()
    notebooks: tuple[Path, ...] = ()


@dataclass
class SensorResult:
    dates: list[dt.date] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    error: str | None = None  # the look itself failed (no dates from FlowAPI)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.state == "failed"]


def describe_failure(exc: BaseException) -> str:
    """The text recorded for a failed run: our errors' own messages, others with their type."""
    if isinstance(exc, WorkflowFailed):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _skip_reason(previous: RunRecord | None) -> str:
    if previous is None:
        return "already handled"
    when = f"{previous.timestamp:%Y-%m-%d %H:%M:%S} UTC"
    if previous.state is RunState.success:
        return f"succeeded at {when}"
    return f"running since {when} ({previous.owner or 'another sensor'})"


def run_planned(
    planned: PlannedRun,
    store: RunStore,
    run: RunOne,
) -> Outcome:
    """Claim, run and record one run (skipped if it succeeded or runs already)."""
    name, params = planned.workflow.name, planned.parameters
    claimed, previous = store.claim(name, params)
    if not claimed:
        return Outcome(name, params, "skipped", _skip_reason(previous))
    try:
        result = run(planned.workflow, params)
    except Exception as exc:
        detail = describe_failure(exc)
        store.record(name, params, RunState.failed, detail)
        log.error("workflow %s failed for %s: %s", name, params.get("reference_date"), detail)
        return Outcome(name, params, "failed", detail)
    except BaseException:  # interrupted: not left `running`
        store.record(name, params, RunState.failed, "interrupted (the sensor was stopped)")
        raise
    store.record(name, params, RunState.success)
    return Outcome(
        name, params, "success", reports=result.reports, notebooks=tuple(result.notebooks.values())
    )


def run_sensor(
    config: Config,
    settings: Settings,
    store: RunStore,
    *,
    fetch_dates: FetchDates = fetch_available_dates,
    run: RunOne | None = None,
    report: Callable[[Outcome], None] | None = None,
    latest_only: bool = False,
) -> SensorResult:
    """One look: get the dates, run every due run one after another; what happened. A failure to get the
    dates is returned as `error` (nothing ran); a failed run is recorded and the others still run. With
    `latest_only`, only the runs for the newest available date."""
    if run is None:

        def run(spec: WorkflowSpec, params: Mapping[str, Any]) -> RunResult:
            return run_workflow(spec, params, settings)

    result = SensorResult()
    try:
        result.dates = fetch_dates(settings, config.sensor.cdr_types)
    except DatesUnavailable as exc:
        result.error = str(exc)
        log.error("%s", exc)
        return result
    for planned in plan_runs(config, result.dates, latest_only=latest_only):
        outcome = run_planned(planned, store, run)
        result.outcomes.append(outcome)
        if report is not None:
            report(outcome)
    return result
