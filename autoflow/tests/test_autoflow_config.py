"""workflows.yml validation: FlowKit's format, one message per mistake naming the key's path."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path

import pytest
import yaml

from autoflow.config import load_config
from autoflow.errors import ConfigError

GOOD = {
    "workflows": [
        {
            "name": "flows_above_normal",
            "notebooks": {
                "report": {
                    "filename": "report.ipynb",
                    "parameters": {"flows": "run_flows", "reference_date": "reference_date"},
                    "output": {"format": "pdf"},
                },
                "run_flows": {
                    "filename": "run_flows.ipynb",
                    "parameters": {
                        "url": "flowapi_url",
                        "unit": "aggregation_unit",
                        "date_ranges": "date_ranges",
                    },
                },
            },
        }
    ],
    "available_dates_sensor": {
        "schedule": "0 0 * * *",
        "cdr_types": ["calls", "sms"],
        "workflows": [
            {
                "workflow_name": "flows_above_normal",
                "parameters": {"aggregation_unit": "admin2"},
                "earliest_date": dt.date(2016, 1, 4),
                "date_stencil": [[dt.date(2016, 1, 1), dt.date(2016, 1, 3)], -1, 0],
            }
        ],
    },
}


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    for name in ("report.ipynb", "run_flows.ipynb", "report.tpl"):
        (tmp_path / name).write_text("{}")
    return tmp_path


def write(inputs: Path, spec: object) -> Path:
    path = inputs / "workflows.yml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def mistakes(inputs: Path, spec: object) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(write(inputs, spec))
    return [line.strip() for line in str(info.value).splitlines()[1:]]


def test_a_good_file(inputs: Path) -> None:
    write(inputs, GOOD)
    config = load_config(inputs)  # the folder holding workflows.yml
    workflow = config.workflows["flows_above_normal"]
    # run_flows first: the report takes its executed path
    assert [n.key for n in workflow.notebooks] == ["run_flows", "report"]
    assert workflow.notebooks[1].depends_on == ("run_flows",)
    assert workflow.notebooks[1].output is not None
    assert workflow.parameter_names == {"aggregation_unit", "reference_date", "date_ranges"}
    sensor = config.sensor
    assert sensor.schedule == "0 0 * * *" and sensor.cdr_types == ("calls", "sms")
    (entry,) = sensor.workflows
    assert entry.earliest_date == dt.date(2016, 1, 4)
    assert entry.date_stencil.date_ranges(dt.date(2016, 1, 5)) == [
        (dt.date(2016, 1, 1), dt.date(2016, 1, 3)),
        (dt.date(2016, 1, 4), dt.date(2016, 1, 5)),
        (dt.date(2016, 1, 5), dt.date(2016, 1, 6)),
    ]


def test_defaults_null_schedule_and_no_cdr_types(inputs: Path) -> None:
    spec = copy.deepcopy(GOOD)
    spec["available_dates_sensor"] = {
        "schedule": None,
        "workflows": [
            {"workflow_name": "flows_above_normal", "parameters": {"aggregation_unit": "x"}}
        ],
    }
    sensor = load_config(write(inputs, spec)).sensor
    assert sensor.schedule is None and sensor.cdr_types is None
    assert sensor.workflows[0].date_stencil.date_ranges(dt.date(2016, 1, 2)) == [
        (dt.date(2016, 1, 2), dt.date(2016, 1, 3))
    ]


def edit(change) -> dict:  # type: ignore[no-untyped-def]
    spec = copy.deepcopy(GOOD)
    change(spec)
    return spec


W = "workflows[0]"
NB = f"{W}.notebooks"
S = "available_dates_sensor"
SW = f"{S}.workflows[0]"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda s: s.pop("workflows"), "workflows: section missing"),
        (lambda s: s.pop("available_dates_sensor"), "available_dates_sensor: section missing"),
        (
            lambda s: s["available_dates_sensor"]["workflows"][0].update(workflow_name="nope"),
            f"{SW}.workflow_name: no workflow named 'nope' (defined: flows_above_normal)",
        ),
        (
            lambda s: s["workflows"][0]["notebooks"]["report"].update(filename="gone.ipynb"),
            f"{NB}.report.filename: notebook 'gone.ipynb' not found",
        ),
        (
            lambda s: s["workflows"][0]["notebooks"]["report"].update(filename="report.tpl"),
            f"{NB}.report.filename: 'report.tpl' is not a Jupyter notebook (.ipynb)",
        ),
        (
            lambda s: s["workflows"][0]["notebooks"]["report"].update(filename="../x.ipynb"),
            f"{NB}.report.filename: '../x.ipynb' is outside the inputs folder",
        ),
        (
            lambda s: s["available_dates_sensor"].update(schedule="0 0 * *"),
            f"{S}.schedule: not a valid cron schedule",
        ),
        (
            lambda s: s["available_dates_sensor"].update(schedule="H 0 * * *"),
            f"{S}.schedule: not a valid cron schedule",
        ),
        (
            lambda s: s["available_dates_sensor"]["workflows"][0].update(date_stencil=[[0, -1]]),
            f"{SW}.date_stencil[0]: [0, -1] is reversed",
        ),
        (
            lambda s: s["available_dates_sensor"]["workflows"][0].update(date_stencil=[[-2, -2]]),
            f"{SW}.date_stencil[0]: [-2, -2] is empty",
        ),
        (
            lambda s: s["workflows"][0]["notebooks"].update(
                date_ranges={"filename": "report.ipynb"}
            ),
            f"{NB}.date_ranges: 'date_ranges' is reserved",
        ),
        (
            lambda s: s["workflows"][0]["notebooks"].update(
                flowapi_url={"filename": "report.ipynb"}
            ),
            f"{NB}.flowapi_url: 'flowapi_url' is reserved",
        ),
        (
            lambda s: s["available_dates_sensor"]["workflows"][0]["parameters"].update(
                reference_date="2016-01-01"
            ),
            f"{SW}.parameters.reference_date: 'reference_date' is reserved",
        ),
        (
            lambda s: s["available_dates_sensor"]["workflows"][0].update(parameters={}),
            f"{SW}.parameters: missing parameters for workflow 'flows_above_normal': aggregation_unit",
        ),
        (
            lambda s: s["available_dates_sensor"]["workflows"][0]["parameters"].update(
                colour="red"
            ),
            f"{SW}.parameters: unexpected parameters for workflow 'flows_above_normal': colour",
        ),
        (
            lambda s: s["workflows"][0]["notebooks"]["run_flows"]["parameters"].update(
                previous="report"
            ),
            f"{NB}: the notebooks depend on each other in a cycle",
        ),
        (
            lambda s: s["available_dates_sensor"].update(cdr_types=["calls", "voice"]),
            f"{S}.cdr_types[1]: str 'voice' is not one of: calls, sms, mds, topups",
        ),
        (
            lambda s: s["workflows"].append(copy.deepcopy(s["workflows"][0])),
            "workflows[1].name: duplicate workflow name 'flows_above_normal'",
        ),
        (
            lambda s: s["workflows"][0]["notebooks"]["report"].update(output={"format": "html"}),
            f"{NB}.report.output.format: must be one of: pdf",
        ),
        (
            lambda s: s["workflows"][0]["notebooks"]["report"].update(
                output={"format": "pdf", "template": "nope.tpl"}
            ),
            f"{NB}.report.output.template: AsciiDoc template 'nope.tpl' not found",
        ),
        (
            lambda s: s["available_dates_sensor"]["workflows"][0].update(earliest_date="soon"),
            f"{SW}.earliest_date: must be a date (YYYY-MM-DD)",
        ),
        (
            lambda s: s["workflows"][0].update(name="a/b"),
            f"{W}.name: 'a/b': use letters, digits",
        ),
        (
            lambda s: s["workflows"][0]["notebooks"]["report"].update(colour="red"),
            f"{NB}.report.colour: unknown key",
        ),
        (
            lambda s: s["available_dates_sensor"].pop("schedule"),
            f"{S}.schedule: is required",
        ),
        (
            lambda s: s["workflows"][0]["notebooks"]["report"]["parameters"].update({"2x": "y"}),
            f"{NB}.report.parameters.2x: a notebook parameter must be a Python variable name",
        ),
    ],
)
def test_one_message_per_mistake(inputs: Path, change, expected) -> None:
    found = mistakes(inputs, edit(change))
    assert len(found) == 1, found
    assert found[0].startswith(expected), found


def test_every_mistake_is_listed(inputs: Path) -> None:
    spec = edit(
        lambda s: (
            s["available_dates_sensor"].update(schedule="never"),
            s["workflows"][0]["notebooks"]["report"].update(filename="gone.ipynb"),
        )
    )
    assert len(mistakes(inputs, spec)) == 2


def test_unreadable_files(inputs: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(inputs / "missing.yml")
    (inputs / "bad.yml").write_text("workflows: [")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(inputs / "bad.yml")
    (inputs / "list.yml").write_text("- kind: date_triggered_notebooks\n")  # the 2019 format
    with pytest.raises(ConfigError, match="must be a mapping with 'workflows'"):
        load_config(inputs / "list.yml")
