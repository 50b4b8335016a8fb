"""The sensor without Prefect, with real notebooks (papermill): which runs are due, skipping what succeeded,
running again what failed, a failure not stopping the others, outputs named as FlowKit names them, reports
only for runs that succeeded, FlowAPI out of reach, and `running` rows a killed sensor left."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from pathlib import Path

import pytest

from autoflow.config import load_config
from autoflow.runs import RunState, RunStore, parameters_hash
from autoflow.sensor import fetch_available_dates, plan_runs, run_sensor, union_of_dates
from autoflow.workflow import RunResult, run_workflow
from autoflow_helpers import closed_port, fake_pdf, settings_for, write_notebook, write_workflows

DAYS = [dt.date(2016, 1, 1), dt.date(2016, 1, 2), dt.date(2016, 1, 3)]


def fixed_dates(days):  # type: ignore[no-untyped-def]
    return lambda settings, cdr_types: list(days)


@pytest.fixture
def setup(tmp_path: Path):  # type: ignore[no-untyped-def]
    settings = settings_for(tmp_path)
    inputs = settings.inputs_dir
    write_notebook(
        inputs / "first.ipynb",
        {"reference_date": None, "date_ranges": None, "unit": None},
        "import os\n"
        "assert date_ranges == [['2016-01-0%d' % (int(reference_date[-1]) - 1), reference_date],"
        " [reference_date, '2016-01-0%d' % (int(reference_date[-1]) + 1)]], date_ranges\n"
        "if os.environ.get('AUTOFLOW_TEST_FAIL') == reference_date:\n"
        "    raise ValueError(f'no data for {reference_date}')\n",
    )
    write_notebook(
        inputs / "second.ipynb",
        {"previous": None, "url": None, "unit": None},
        "import os\n"
        "assert previous.endswith('.ipynb') and os.path.isfile(previous), previous\n"
        "assert os.environ['FLOWAPI_TOKEN'] and url.startswith('http'), url\n"
        "assert unit == 'admin2'\n",
    )
    write_workflows(
        inputs,
        {
            "workflows": [
                {
                    "name": "pair",
                    "notebooks": {
                        "report": {
                            "filename": "second.ipynb",
                            "parameters": {
                                "previous": "analysis",
                                "url": "flowapi_url",
                                "unit": "unit",
                            },
                            "output": {"format": "pdf"},
                        },
                        "analysis": {
                            "filename": "first.ipynb",
                            "parameters": {
                                "reference_date": "reference_date",
                                "date_ranges": "date_ranges",
                                "unit": "unit",
                            },
                        },
                    },
                }
            ],
            "available_dates_sensor": {
                "schedule": None,
                "workflows": [
                    {
                        "workflow_name": "pair",
                        "parameters": {"unit": "admin2"},
                        "date_stencil": [-1, 0],
                    }
                ],
            },
        },
    )
    store = RunStore.open(settings.db_uri)
    yield settings, load_config(settings.workflows_file), store
    store.close()


def runner(settings):  # type: ignore[no-untyped-def]
    return lambda spec, params: run_workflow(spec, params, settings, render=fake_pdf)


def test_union_of_dates_and_unknown_types() -> None:
    by_type = {"calls": ["2016-01-02", "2016-01-01"], "sms": ["2016-01-03", "2016-01-01"]}
    assert union_of_dates(by_type, None) == DAYS
    assert union_of_dates(by_type, ["sms"]) == [DAYS[0], DAYS[2]]
    with pytest.warns(UserWarning, match="No data available for CDR types mds"):
        assert union_of_dates(by_type, ["calls", "mds"]) == DAYS[:2]


def test_dates_filtered_by_earliest_date_and_stencil(setup) -> None:  # type: ignore[no-untyped-def]
    _, config, _ = setup
    planned = plan_runs(config, DAYS)
    assert [p.parameters["reference_date"] for p in planned] == DAYS[1:]  # 01-01 needs 2015-12-31
    assert planned[0].parameters == {
        "unit": "admin2",
        "reference_date": DAYS[1],
        "date_ranges": [(DAYS[0], DAYS[1]), (DAYS[1], DAYS[2])],
    }
    entry = config.sensor.workflows[0]
    later = type(entry)(entry.workflow_name, entry.parameters, DAYS[2], entry.date_stencil)
    config2 = type(config)(config.path, config.workflows, type(config.sensor)(None, None, (later,)))
    assert [p.parameters["reference_date"] for p in plan_runs(config2, DAYS)] == [DAYS[2]]
    # --latest: only the newest available date, whose stencil still reaches back into the others
    latest = plan_runs(config, DAYS, latest_only=True)
    assert [(p.parameters["reference_date"], p.parameters["date_ranges"]) for p in latest] == [
        (DAYS[2], [(DAYS[1], DAYS[2]), (DAYS[2], DAYS[2] + dt.timedelta(days=1))])
    ]


def test_runs_skips_and_retries(setup, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    settings, config, store = setup
    monkeypatch.setenv("AUTOFLOW_TEST_FAIL", "2016-01-03")
    result = run_sensor(
        config, settings, store, fetch_dates=fixed_dates(DAYS), run=runner(settings)
    )
    assert result.error is None
    assert [(o.parameters["reference_date"], o.state) for o in result.outcomes] == [
        (DAYS[1], "success"),
        (DAYS[2], "failed"),
    ]
    failed = result.outcomes[1]
    assert "ValueError: no data for 2016-01-03" in failed.detail and "first.ipynb" in failed.detail
    recorded = store.latest("pair", failed.parameters)
    assert recorded.state is RunState.failed and "no data for 2016-01-03" in recorded.error

    # outputs: FlowKit's names; the failing notebook is kept (its traceback), a report only for the success
    good = result.outcomes[0]
    tag = f"pair_2016-01-02_{parameters_hash(good.parameters)}"
    names = sorted(p.name for p in settings.notebooks_dir.iterdir())
    assert len(names) == 3
    for stem in ("first", "second"):
        assert any(re.fullmatch(rf"{stem}__{tag}__\d{{8}}T\d{{6}}Z\.ipynb", n) for n in names), (
            names
        )
    assert any(n.startswith("first__pair_2016-01-03_") for n in names)
    (pdf,) = settings.reports_dir.iterdir()
    assert (
        good.reports == (pdf,) and pdf.name.startswith(f"second__{tag}__") and pdf.suffix == ".pdf"
    )

    # next look: the success is skipped, the failure runs again (and now works)
    monkeypatch.delenv("AUTOFLOW_TEST_FAIL")
    again = run_sensor(config, settings, store, fetch_dates=fixed_dates(DAYS), run=runner(settings))
    assert [(o.parameters["reference_date"], o.state) for o in again.outcomes] == [
        (DAYS[1], "skipped"),
        (DAYS[2], "success"),
    ]
    assert again.outcomes[0].detail.startswith("succeeded at ")
    assert [r.state for r in store.history("pair", failed.parameters)] == [
        RunState.running,
        RunState.failed,
        RunState.running,
        RunState.success,
    ]
    assert len(list(settings.reports_dir.glob("*.pdf"))) == 2


def test_a_running_row_of_a_killed_sensor_does_not_block(setup) -> None:  # type: ignore[no-untyped-def]
    settings, config, store = setup
    (planned, _) = plan_runs(config, DAYS)
    # a sensor process claims the run and is killed before it records an outcome
    code = (
        "import sys, datetime as dt\n"
        "from autoflow.runs import RunStore\n"
        "s = RunStore.open(sys.argv[1])\n"
        "print(s.claim('pair', {'unit': 'admin2', 'reference_date': dt.date(2016, 1, 2), "
        "'date_ranges': [(dt.date(2016, 1, 1), dt.date(2016, 1, 2)), (dt.date(2016, 1, 2), dt.date(2016, 1, 3))]})[0])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, settings.db_uri], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "True"
    assert store.latest("pair", planned.parameters).state is RunState.running
    calls = []
    result = run_sensor(
        config,
        settings,
        store,
        fetch_dates=fixed_dates(DAYS[:2]),
        run=lambda spec, params: calls.append(params) or RunResult({}, ()),
    )
    assert [o.state for o in result.outcomes] == ["success"] and len(calls) == 1


def test_flowapi_out_of_reach(setup, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings, config, store = setup
    down = settings_for(tmp_path, FLOWAPI_URL=f"http://127.0.0.1:{closed_port()}")
    # the look itself: no dates, nothing runs or is recorded
    result = run_sensor(config, down, store, run=runner(down))
    assert result.outcomes == [] and store.latest_runs() == []
    assert result.error.startswith(
        f"cannot get the available dates from FlowAPI at {down.flowapi_url}"
    )

    # FlowAPI goes away while a workflow runs: that run fails with flowclient's error, the others still run
    inputs = down.inputs_dir
    write_notebook(
        inputs / "query.ipynb",
        {"url": None, "reference_date": None},
        "import os, flowclient\n"
        "conn = flowclient.connect(url=url, token=os.environ['FLOWAPI_TOKEN'])\n"
        "flowclient.get_available_dates(connection=conn)\n",
    )
    write_notebook(inputs / "local.ipynb", {"reference_date": None}, "x = 1\n")
    write_workflows(
        inputs,
        {
            "workflows": [
                {
                    "name": "needs_api",
                    "notebooks": {
                        "q": {
                            "filename": "query.ipynb",
                            "parameters": {
                                "url": "flowapi_url",
                                "reference_date": "reference_date",
                            },
                        }
                    },
                },
                {
                    "name": "local",
                    "notebooks": {
                        "l": {
                            "filename": "local.ipynb",
                            "parameters": {"reference_date": "reference_date"},
                        }
                    },
                },
            ],
            "available_dates_sensor": {
                "schedule": None,
                "workflows": [{"workflow_name": "needs_api"}, {"workflow_name": "local"}],
            },
        },
    )
    config2 = load_config(inputs)
    result = run_sensor(config2, down, store, fetch_dates=fixed_dates(DAYS[:1]), run=runner(down))
    assert [(o.workflow_name, o.state) for o in result.outcomes] == [
        ("needs_api", "failed"),
        ("local", "success"),
    ]
    assert "FlowclientConnectionError" in result.outcomes[0].detail
    assert (
        "FlowclientConnectionError"
        in store.latest("needs_api", result.outcomes[0].parameters).error
    )


def test_fetch_needs_a_token(tmp_path: Path) -> None:
    from autoflow.errors import DatesUnavailable

    settings = settings_for(tmp_path, FLOWAPI_TOKEN="")
    with pytest.raises(DatesUnavailable, match="FLOWAPI_TOKEN is not set"):
        fetch_available_dates(settings, None)
