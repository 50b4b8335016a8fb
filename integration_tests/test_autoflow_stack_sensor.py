"""AutoFlow against the real stack: the sensor asks FlowAPI for its dates with a token, a notebook queries
FlowAPI with the token it is given, a token FlowAPI rejects as expired fails the look (no dates) or the run
that uses it (the others still succeed), and the run-state table lives in PostgreSQL.

Everything AutoFlow writes is in a temporary folder and a database of its own (dropped at the end), so the
shared stack is left as it was."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from psycopg import sql

from integration_helpers import Stack

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "autoflow" / "tests"))

from autoflow.config import load_config
from autoflow.runs import RunState, RunStore, parameters_hash
from autoflow.sensor import fetch_available_dates, run_sensor
from autoflow.settings import Settings
from autoflow_helpers import write_notebook, write_workflows

DB = "autoflow_integration"


@pytest.fixture(scope="module")
def pg_uri(stack: Stack) -> Iterator[str]:
    """A database of its own in the stack's PostgreSQL (superuser over the private socket)."""
    with stack.cluster.connect() as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(DB)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DB)))
    s = stack.cluster.settings
    yield (
        f"postgresql+psycopg://{s.superuser}@/{DB}"
        f"?host={stack.cluster.socket_dir}&port={stack.flowdb_port}"
    )
    with stack.cluster.connect() as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DB)))


def settings_for(root: Path, stack: Stack, token: str, db_uri: str) -> Settings:
    return Settings.from_env(
        {
            "AUTOFLOW_HOME": str(root / "home"),
            "AUTOFLOW_INPUTS_DIR": str(root / "inputs"),
            "AUTOFLOW_OUTPUTS_DIR": str(root / "outputs"),
            "AUTOFLOW_DB_URI": db_uri,
            "FLOWAPI_URL": stack.flowapi_url,
            "FLOWAPI_TOKEN": token,
        },
        secrets_dir=None,
    )


def write_inputs(inputs: Path) -> None:
    inputs.mkdir(parents=True, exist_ok=True)
    write_notebook(
        inputs / "dates.ipynb",
        {"flowapi_url": None, "reference_date": None},
        "import os, warnings, flowclient\n"
        "warnings.simplefilter('ignore')\n"
        "conn = flowclient.connect(url=flowapi_url, token=os.environ['FLOWAPI_TOKEN'])\n"
        "dates = flowclient.get_available_dates(connection=conn)\n"
        "assert reference_date in dates['calls'], (reference_date, dates)\n",
    )
    write_notebook(inputs / "local.ipynb", {"reference_date": None}, "x = 1\n")
    write_workflows(
        inputs,
        {
            "workflows": [
                {
                    "name": "uses_api",
                    "notebooks": {
                        "q": {
                            "filename": "dates.ipynb",
                            "parameters": {
                                "flowapi_url": "flowapi_url",
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
                "cdr_types": ["calls"],
                "workflows": [{"workflow_name": "uses_api"}, {"workflow_name": "local"}],
            },
        },
    )


def test_sensor_with_real_flowapi_and_expired_token(
    stack: Stack, pg_uri: str, tmp_path: Path
) -> None:
    good = settings_for(tmp_path, stack, stack.token(["get_available_dates"]), pg_uri)
    expired_token = stack.token(["get_available_dates"], lifetime=dt.timedelta(seconds=-60))
    expired = settings_for(tmp_path, stack, expired_token, pg_uri)
    write_inputs(good.inputs_dir)
    config = load_config(good.inputs_dir)
    dates = fetch_available_dates(good, ["calls"])
    assert dates and dates == sorted(dates)
    last = [dates[-1]]  # one date: one run per workflow

    store = RunStore.open(pg_uri)
    try:
        # the look with an expired token: FlowAPI refuses, nothing runs or is recorded
        result = run_sensor(config, expired, store)
        assert result.outcomes == []
        assert (
            "cannot get the available dates" in result.error and "expired" in result.error.lower()
        )

        # dates fetched with a good token, the notebooks given the expired one: the API run fails, the other
        # succeeds, and both outcomes are recorded in PostgreSQL
        result = run_sensor(config, expired, store, fetch_dates=lambda s, types: last)
        assert [(o.workflow_name, o.state) for o in result.outcomes] == [
            ("uses_api", "failed"),
            ("local", "success"),
        ]
        assert "expired" in result.outcomes[0].detail.lower()
        failed = store.latest("uses_api", result.outcomes[0].parameters)
        assert failed.state is RunState.failed and "expired" in failed.error.lower()

        # the next look with a good token runs the failed run again (real dates) and skips the success
        result = run_sensor(
            config, good, store, fetch_dates=lambda s, types: fetch_available_dates(s, types)[-1:]
        )
        assert [(o.workflow_name, o.state) for o in result.outcomes] == [
            ("uses_api", "success"),
            ("local", "skipped"),
        ]
        params = result.outcomes[0].parameters
        assert [r.state for r in store.history("uses_api", params)] == [
            RunState.running,
            RunState.failed,
            RunState.running,
            RunState.success,
        ]
    finally:
        store.close()

    # FlowKit's table in PostgreSQL: its enum type, and the hash as FlowKit computes it
    from sqlalchemy import create_engine, text

    engine = create_engine(pg_uri)
    with engine.connect() as conn:
        assert (
            conn.execute(text("SELECT enum_range(NULL::runstate)::text")).scalar()
            == "{running,success,failed}"
        )
        hashes = (
            conn.execute(
                text(
                    "SELECT DISTINCT parameters_hash FROM workflow_runs WHERE workflow_name = 'uses_api'"
                )
            )
            .scalars()
            .all()
        )
        assert hashes == [parameters_hash(params)]
    engine.dispose()


def test_two_sensors_never_claim_the_same_run(pg_uri: str) -> None:
    """The claim is one locked transaction: of two stores racing for the same run, one wins."""
    import threading

    params = {"reference_date": dt.date(2016, 1, 1), "date_ranges": [], "n": 1}
    stores = [RunStore.open(pg_uri) for _ in range(2)]
    for s in stores:  # different processes, as far as the rows say
        s.owner = "elsewhere:1:1"
    results: list[bool] = []
    barrier = threading.Barrier(2)

    def claim(store: RunStore) -> None:
        barrier.wait()
        results.append(store.claim("race", params)[0])

    threads = [threading.Thread(target=claim, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in stores:
        s.close()
    assert sorted(results) == [False, True]
