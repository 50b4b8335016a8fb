"""The sensor through Prefect 3 (ephemeral, started once for this module): a look is a flow run named as
FlowKit's sensor, each workflow run a sub-flow named by its tag with a task per notebook and report; the
report is a real PDF (nbconvert + asciidoctor-pdf) and a failing run is recorded failed, the other succeeds."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from autoflow.config import load_config
from autoflow.runs import RunState, RunStore
from autoflow_helpers import settings_for, write_notebook, write_workflows


@pytest.fixture(scope="module")
def prefect_env(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from flowkit_protocol.prefect_settings import prefect_environment

    home = tmp_path_factory.mktemp("autoflow-home")
    with pytest.MonkeyPatch.context() as mp:
        for name in ("PREFECT_HOME", "PREFECT_API_URL", "PREFECT_SERVER_ANALYTICS_ENABLED"):
            mp.delenv(name, raising=False)
        chosen = prefect_environment(home)
        for name in chosen:  # undone at the end of the module
            mp.setenv(name, chosen[name])
        yield home


def test_sensor_and_workflows_are_prefect_flow_runs(prefect_env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from prefect import get_client

    from autoflow.flows import SENSOR_FLOW_NAME, sensor_with_prefect

    settings = settings_for(tmp_path)
    inputs = settings.inputs_dir
    write_notebook(
        inputs / "report.ipynb",
        {"reference_date": None},
        "import os\nif os.environ.get('AUTOFLOW_TEST_FAIL') == reference_date:\n    raise ValueError('boom')\n"
        "print('Report for', reference_date)\n",
    )
    write_workflows(
        inputs,
        {
            "workflows": [
                {
                    "name": "daily_report",
                    "notebooks": {
                        "report": {
                            "filename": "report.ipynb",
                            "parameters": {"reference_date": "reference_date"},
                            "output": {"format": "pdf"},
                        }
                    },
                }
            ],
            "available_dates_sensor": {
                "schedule": None,
                "workflows": [{"workflow_name": "daily_report"}],
            },
        },
    )
    config = load_config(inputs)
    store = RunStore.open(settings.db_uri)
    days = [dt.date(2016, 1, 1), dt.date(2016, 1, 2)]
    os.environ["AUTOFLOW_TEST_FAIL"] = "2016-01-02"
    try:
        result = sensor_with_prefect(config, settings, store, fetch_dates=lambda s, types: days)
    finally:
        del os.environ["AUTOFLOW_TEST_FAIL"]
    assert [o.state for o in result.outcomes] == ["success", "failed"]
    assert "ValueError: boom" in result.outcomes[1].detail
    assert store.latest("daily_report", result.outcomes[1].parameters).state is RunState.failed
    (pdf,) = settings.reports_dir.iterdir()
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.name.startswith(
        "report__daily_report_2016-01-01_"
    )
    store.close()

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs()
        flows = {f.id: f.name for f in client.read_flows()}
        by_flow = {}
        for run in runs:
            by_flow.setdefault(flows[run.flow_id], []).append(run)
        assert [r.state.type.value for r in by_flow[SENSOR_FLOW_NAME]] == ["COMPLETED"]
        sub = sorted(by_flow["daily_report"], key=lambda r: r.name)
        assert [r.name.split("_")[2] for r in sub] == ["2016-01-01", "2016-01-02"]
        assert [r.state.type.value for r in sub] == ["COMPLETED", "FAILED"]
        tasks = {t.name.rsplit("-", 1)[0] for t in client.read_task_runs()}
        assert {"get_available_dates", "execute report", "render report"} <= tasks
