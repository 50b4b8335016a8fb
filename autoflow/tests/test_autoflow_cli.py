"""AutoFlow's settings from the environment and secrets, and the CLI as an operator runs it (without Prefect:
see test_autoflow_prefect.py): check-config, run with FlowAPI out of reach, status, the serve loop's times."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest

from autoflow.cli import main
from autoflow.config import load_config
from autoflow.errors import ConfigError
from autoflow.runs import RunState, RunStore
from autoflow.serve import next_time, serve
from autoflow.settings import Settings
from autoflow_helpers import closed_port, write_notebook, write_workflows

WORKFLOWS = {
    "workflows": [
        {
            "name": "daily",
            "notebooks": {
                "nb": {"filename": "nb.ipynb", "parameters": {"d": "reference_date", "u": "unit"}}
            },
        }
    ],
    "available_dates_sensor": {
        "schedule": "30 6 * * *",
        "workflows": [{"workflow_name": "daily", "parameters": {"unit": "admin1"}}],
    },
}


def test_settings_from_env_and_secrets(tmp_path: Path) -> None:
    s = Settings.from_env({"AUTOFLOW_HOME": str(tmp_path)}, secrets_dir=None)
    assert s.inputs_dir == tmp_path / "inputs" and s.outputs_dir == tmp_path / "outputs"
    assert s.db_uri == f"sqlite:///{tmp_path / 'outputs' / 'autoflow.db'}"
    assert (
        s.log_level == "ERROR"
        and s.flowapi_token is None
        and s.flowapi_url == "http://127.0.0.1:9090"
    )
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "AUTOFLOW_DB_PASSWORD").write_text("s3cret\n")
    (secrets / "FLOWAPI_TOKEN").write_text("from-file\n")
    s = Settings.from_env(
        {
            "AUTOFLOW_DB_URI": "postgresql+psycopg://autoflow:{}@db:5432/autoflow",
            "AUTOFLOW_DB_PASSWORD": "ignored",
            "FLOWAPI_TOKEN": "ignored",
            "FLOWAPI_URL": "https://api.example:9090/",
            "AUTOFLOW_LOG_LEVEL": "DEBUG",
        },
        secrets_dir=secrets,
    )
    assert s.db_uri == "postgresql+psycopg://autoflow:s3cret@db:5432/autoflow"
    assert s.flowapi_token == "from-file" and s.flowapi_url == "https://api.example:9090"
    assert s.notebook_env() == {
        "FLOWAPI_URL": "https://api.example:9090",
        "FLOWAPI_TOKEN": "from-file",
    }
    assert "s3cret" not in repr(s) and "from-file" not in repr(s)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"AUTOFLOW_LOG_LEVEL": "debug"},
            "AUTOFLOW_LOG_LEVEL must be one of .* \\(upper-case\\), got 'debug'",
        ),
        ({"AUTOFLOW_LOG_LEVEL": "LOUD"}, "AUTOFLOW_LOG_LEVEL must be one of"),
        ({"AUTOFLOW_DB_URI": "postgresql://a:{}@h/db"}, "AUTOFLOW_DB_PASSWORD is not set"),
        ({"AUTOFLOW_RUNNING_TIMEOUT": "soon"}, "AUTOFLOW_RUNNING_TIMEOUT must be a whole number"),
        ({"SSL_CERTIFICATE_FILE": "/nonexistent/ca.pem"}, "SSL_CERTIFICATE_FILE"),
    ],
)
def test_bad_settings(env, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env, secrets_dir=None)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """AutoFlow's variables for the CLI, Prefect's preset so the CLI changes nothing in os.environ."""
    for name in list(os.environ):
        if name.startswith(("AUTOFLOW_", "FLOWAPI_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AUTOFLOW_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("AUTOFLOW_INPUTS_DIR", str(tmp_path / "inputs"))
    monkeypatch.setenv("AUTOFLOW_OUTPUTS_DIR", str(tmp_path / "outputs"))
    monkeypatch.setenv("FLOWAPI_URL", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("FLOWAPI_TOKEN", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ0ZXN0In0.")
    for name, value in {
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
    }.items():
        monkeypatch.setenv(name, value)
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    write_notebook(inputs / "nb.ipynb", {"d": None, "u": None}, "pass")
    write_workflows(inputs, WORKFLOWS)
    return inputs


def test_check_config(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config"]) == 0
    assert (
        "workflows.yml: OK (1 workflow(s), 1 sensor entry, schedule 30 6 * * *)"
        in capsys.readouterr().out
    )
    (env / "nb.ipynb").unlink()
    assert main(["check-config", str(env / "workflows.yml")]) == 2
    err = capsys.readouterr().err
    assert "workflows[0].notebooks.nb.filename: notebook 'nb.ipynb' not found" in err


def test_run_with_flowapi_out_of_reach(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--no-prefect"]) == 1
    err = capsys.readouterr().err
    assert "autoflow: cannot get the available dates from FlowAPI at http://127.0.0.1:" in err


def test_status(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status"]) == 0
    assert capsys.readouterr().out.strip() == "no workflow runs recorded"
    settings = Settings.from_env(secrets_dir=None)
    params = {
        "unit": "admin1",
        "reference_date": dt.date(2016, 1, 2),
        "date_ranges": [(dt.date(2016, 1, 2), dt.date(2016, 1, 3))],
    }
    store = RunStore.open(settings.db_uri)
    store.record("daily", params, RunState.running)
    store.record(
        "daily", params, RunState.failed, "notebook nb.ipynb failed in cell 2: ValueError: no data"
    )
    store.record("daily", dict(params, reference_date=dt.date(2016, 1, 3)), RunState.success)
    store.record("other", params, RunState.success)
    store.close()
    assert main(["status", "--workflow", "daily"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["workflow", "reference", "state", "recorded", "(UTC)", "parameters"]
    assert lines[1].split()[:3] == ["daily", "2016-01-03", "success"]
    assert lines[2].split()[:3] == ["daily", "2016-01-02", "failed"]
    assert lines[2].endswith('unit="admin1", date_ranges=[2016-01-02,2016-01-03)')
    assert lines[3].strip() == "why: notebook nb.ipynb failed in cell 2: ValueError: no data"
    assert len(lines) == 4


def test_serve_loop_times(env: Path) -> None:
    assert next_time("30 6 * * *", dt.datetime(2016, 1, 1, 7, tzinfo=dt.UTC)) == dt.datetime(
        2016, 1, 2, 6, 30, tzinfo=dt.UTC
    )
    config = load_config(env)
    clock = [dt.datetime(2016, 1, 1, 6, 0, tzinfo=dt.UTC)]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += dt.timedelta(seconds=seconds)

    looks = []
    serve(
        config,
        lambda: looks.append(clock[0]) or object(),
        now=lambda: clock[0],
        sleep=sleep,
        max_looks=3,
    )  # type: ignore[arg-type,func-returns-value]
    assert looks == [
        dt.datetime(2016, 1, 1, 6, 0, tzinfo=dt.UTC),  # at start
        dt.datetime(2016, 1, 1, 6, 30, tzinfo=dt.UTC),
        dt.datetime(2016, 1, 2, 6, 30, tzinfo=dt.UTC),
    ]
    assert slept == [1800.0, 86400.0]
    assert len(serve(config, lambda: object(), once=True, sleep=sleep)) == 1  # type: ignore[arg-type,return-value]


def test_python_dash_m_autoflow_serves(env: Path, tmp_path: Path) -> None:
    """`python -m autoflow` with no command starts the sensor (here: it needs workflows.yml first)."""
    (env / "workflows.yml").unlink()
    done = subprocess.run(
        [sys.executable, "-m", "autoflow"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2
    assert f"autoflow: {env / 'workflows.yml'}: cannot read" in done.stderr
