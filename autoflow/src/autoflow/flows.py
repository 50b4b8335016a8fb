"""AutoFlow's Prefect 3 flows: the available-dates sensor (a flow with a `get_available_dates` task) and each
workflow run (a sub-flow named after the workflow, run name = its tag, a task per notebook and per report).

The logic lives in plain functions (autoflow.sensor, autoflow.workflow); this module only wraps them. Prefect
reads its settings when it is imported: call `flowkit_protocol.prefect_settings.prefect_environment()` first (the CLI does), so Prefect runs in
ephemeral mode under AutoFlow's home unless `PREFECT_API_URL` names a server, and sends no telemetry. The
ephemeral API runs no scheduler, so `autoflow serve` is the schedule (autoflow.serve).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from autoflow.config import Config, WorkflowSpec
from autoflow.runs import RunStore
from autoflow.sensor import (
    FetchDates,
    Outcome,
    SensorResult,
    fetch_available_dates,
    run_sensor,
)
from autoflow.settings import Settings
from autoflow.workflow import RunResult, run_tag, run_workflow

SENSOR_FLOW_NAME = "Available dates sensor"  # FlowKit's

T = TypeVar("T")


def _as_task(name: str, step: Callable[[], T]) -> T:
    from prefect import task
    from prefect.cache_policies import NO_CACHE

    return task(name=name, cache_policy=NO_CACHE, persist_result=False)(step)()


def prefect_run(settings: Settings) -> Callable[[WorkflowSpec, Mapping[str, Any]], RunResult]:
    """Run one workflow as a Prefect sub-flow, each notebook and report a task."""
    from prefect import flow

    def run(spec: WorkflowSpec, parameters: Mapping[str, Any]) -> RunResult:
        def body() -> RunResult:
            return run_workflow(spec, parameters, settings, run_step=_as_task)

        workflow_flow = flow(
            name=spec.name,
            flow_run_name=run_tag(spec.name, parameters),
            persist_result=False,
            validate_parameters=False,
        )(body)
        return workflow_flow()

    return run


def sensor_with_prefect(
    config: Config,
    settings: Settings,
    store: RunStore,
    *,
    fetch_dates: FetchDates = fetch_available_dates,
    report: Callable[[Outcome], None] | None = None,
    latest_only: bool = False,
) -> SensorResult:
    """One look of the sensor as a Prefect flow run."""
    from prefect import flow, task
    from prefect.cache_policies import NO_CACHE

    get_dates = task(
        name="get_available_dates",
        cache_policy=NO_CACHE,
        persist_result=False,
    )(fetch_dates)

    def body() -> SensorResult:
        return run_sensor(
            config,
            settings,
            store,
            fetch_dates=lambda s, types: get_dates(s, types),
            run=prefect_run(settings),
            report=report,
            latest_only=latest_only,
        )

    return flow(name=SENSOR_FLOW_NAME, persist_result=False, validate_parameters=False)(body)()
