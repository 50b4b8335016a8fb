"""The run-state table on SQLite (PostgreSQL: integration_tests/test_autoflow_stack_sensor.py): FlowKit's hash and
columns, newest row decides, our parameters/error columns, stale `running` rows, a FlowKit table taken over."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from autoflow.runs import RunState, RunStore, parameters_hash, process_alive, this_process

PARAMS = {
    "aggregation_unit": "admin2",
    "reference_date": dt.date(2016, 1, 3),
    "date_ranges": [
        (dt.date(2016, 1, 2), dt.date(2016, 1, 3)),
        (dt.date(2016, 1, 3), dt.date(2016, 1, 4)),
    ],
}


@pytest.fixture
def store(tmp_path: Path) -> RunStore:
    s = RunStore.open(f"sqlite:///{tmp_path / 'sub' / 'runs.db'}", running_timeout=3600)
    yield s
    s.close()


def test_flowkit_parameters_hash() -> None:
    canonical = (
        '{"aggregation_unit": "admin2", "date_ranges": [["2016-01-02", "2016-01-03"], '
        '["2016-01-03", "2016-01-04"]], "reference_date": "2016-01-03"}'
    )
    assert parameters_hash(PARAMS) == hashlib.md5(canonical.encode()).hexdigest()


def test_claim_record_and_newest_row_decides(store: RunStore) -> None:
    assert store.latest("wf", PARAMS) is None
    claimed, previous = store.claim("wf", PARAMS)
    assert claimed and previous is None
    assert store.claim("wf", PARAMS)[0] is False  # running (this live process): skipped
    store.record("wf", PARAMS, RunState.failed, "NotebookFailed: boom")
    failed = store.latest("wf", PARAMS)
    assert failed.state is RunState.failed and failed.error == "NotebookFailed: boom"
    assert failed.parameters == json.loads(json.dumps(PARAMS, default=str))
    assert store.claim("wf", PARAMS)[0] is True  # failed: run again
    store.record("wf", PARAMS, RunState.success)
    claimed, previous = store.claim("wf", PARAMS)
    assert not claimed and previous.state is RunState.success
    other = dict(PARAMS, aggregation_unit="admin3")
    assert store.claim("wf", other)[0] is True  # other parameters: another run
    assert store.claim("other_wf", PARAMS)[0] is True
    states = [r.state for r in store.history("wf", PARAMS)]
    assert states == [RunState.running, RunState.failed, RunState.running, RunState.success]
    latest = store.latest_runs()
    assert [(r.workflow_name, r.state) for r in latest] == [
        ("other_wf", RunState.running),
        ("wf", RunState.running),
        ("wf", RunState.success),
    ]
    assert all(r.timestamp.tzinfo is not None for r in latest)


def test_running_row_of_a_dead_process_is_stale(store: RunStore) -> None:
    child = subprocess.run(
        [sys.executable, "-c", "from autoflow.runs import this_process; print(this_process())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_owner = child.stdout.strip()
    assert process_alive(dead_owner) is False
    assert process_alive(this_process()) is True
    assert process_alive("elsewhere:1:123") is None  # another host: only the timeout applies
    with store.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO workflow_runs (workflow_name, parameters_hash, state, timestamp, owner) "
                "VALUES ('wf', :h, 'running', :t, :o), ('wf2', :h, 'running', :t, 'elsewhere:1:123'), "
                "('wf3', :h, 'running', :old, 'elsewhere:1:123')"
            ),
            {
                "h": parameters_hash(PARAMS),
                "t": dt.datetime.now(dt.UTC),
                "old": dt.datetime.now(dt.UTC) - dt.timedelta(hours=2),
                "o": dead_owner,
            },
        )
    assert store.claim("wf", PARAMS)[0] is True  # its process is gone
    assert store.claim("wf2", PARAMS)[0] is False  # unknowable, recent: still running
    assert store.claim("wf3", PARAMS)[0] is True  # older than the timeout (1 h)


def test_a_flowkit_table_gets_our_columns(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'flowkit.db'}"
    from sqlalchemy import create_engine

    engine = create_engine(uri)
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE workflow_runs (id INTEGER PRIMARY KEY, workflow_name VARCHAR, "
                "parameters_hash VARCHAR, state VARCHAR(7), timestamp DATETIME)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO workflow_runs (workflow_name, parameters_hash, state, timestamp) "
                "VALUES ('wf', :h, 'success', '2020-01-01 00:00:00.000000')"
            ),
            {"h": parameters_hash(PARAMS)},
        )
    engine.dispose()
    store = RunStore.open(uri)
    try:
        (old,) = store.latest_runs()
        assert old.state is RunState.success and old.parameters is None and old.error is None
        assert store.claim("wf", PARAMS)[0] is False  # FlowKit recorded its success
        store.record("wf2", PARAMS, RunState.failed, "x" * 30000)
        assert len(store.latest("wf2", PARAMS).error) == 20000
    finally:
        store.close()


def test_bad_uri_is_a_config_error() -> None:
    from autoflow.errors import ConfigError

    with pytest.raises(ConfigError, match="AUTOFLOW_DB_URI"):
        RunStore.open("nosuchdb://x")
