"""FlowETL through Prefect 3 (ephemeral mode, started once for this module): `flowetl run` backfills days as
flow runs with a task per step, `flowetl serve --once` loads what has landed and leaves what has not, and
`flowetl status` says what happened and why, through the CLI as an operator runs it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from etl_helpers import CALLS_FIELDS, calls_rows, write_csv
from flowdb.cluster import Cluster

DAYS = [dt.date(2016, 4, 1), dt.date(2016, 4, 2), dt.date(2016, 4, 3)]


@pytest.fixture(scope="module")
def prefect_env(etl_root: Path, cluster: Cluster):
    """FlowETL's Prefect settings (its home in the scratch directory, no telemetry) and its FlowDB."""
    from flowetl.flows import prefect_environment

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FLOWETL_HOME", str(etl_root / "flowetl-home"))
        for name in ("PREFECT_HOME", "PREFECT_API_URL", "PREFECT_SERVER_ANALYTICS_ENABLED"):
            mp.delenv(name, raising=False)
        mp.setenv("FLOWDB_HOST", "127.0.0.1")
        mp.setenv("FLOWDB_PORT", str(cluster.status().port))
        mp.setenv("FLOWETL_FLOWDB_PASSWORD", cluster.settings.role_password("flowetl"))
        mp.setenv("FLOWETL_PG_POOL_SLOT_COUNT", "2")
        chosen = prefect_environment()
        for name in chosen:  # undone with the others at the end of the module
            mp.setenv(name, chosen[name])
        yield


def write_config(path: Path, landing: Path) -> Path:
    spec = {
        "cdr_types": {
            "calls": {
                "source": {
                    "file": {
                        "path": str(landing / "calls_{{ ds_nodash }}.csv"),
                        "format": "csv",
                        "fields": CALLS_FIELDS,
                    }
                },
                "data_present": {"timeout": 0, "poke_interval": 0},
                "flux_check": {"wait_interval": 0, "poke_interval": 0, "timeout": 0},
            }
        }
    }
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def test_run_serve_and_status_through_prefect(prefect_env, tmp_path, su, capsys) -> None:
    import os

    from flowetl.cli import main

    assert (
        os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"
    )  # no telemetry to outside hosts
    landing = tmp_path / "landing"
    landing.mkdir()
    config = write_config(tmp_path / "etl.yml", landing)
    header = list(CALLS_FIELDS)
    write_csv(landing / "calls_20160401.csv", calls_rows(DAYS[0], 40), header=header)
    # day 2 is malformed: an unparsable timestamp
    bad = calls_rows(DAYS[1], 10)
    bad[3][2] = "yesterday at noon"
    write_csv(landing / "calls_20160402.csv", bad, header=header)

    code = main(["run", "--config", str(config), "--start", "2016-04-01", "--end", "2016-04-02"])
    out = capsys.readouterr().out
    assert code == 1, out  # one day failed
    assert "2016-04-01 calls: ingested 40 rows" in out
    assert "2016-04-02 calls: FAILED" in out and "1 of 2 loads ingested" in out

    # each step ran as a Prefect task of the day's flow run, the heavy ones under the postgres_etl limit
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=["calls-2016-04-01"]))
        )
        assert runs and runs[0].state.is_completed()
        tasks = {t.name.rsplit("-", 1)[0] for t in client.read_task_runs()}
        limit = client.read_global_concurrency_limit_by_name("postgres_etl")
    assert {"extract", "add_constraints", "add_indexes", "analyze", "attach"} <= tasks
    assert limit.limit == 2

    # serve: day 3 lands and day 2 is fixed; one look loads both and leaves day 1 alone
    write_csv(landing / "calls_20160402.csv", calls_rows(DAYS[1], 10), header=header)
    write_csv(landing / "calls_20160403.csv", calls_rows(DAYS[2], 5), header=header)
    code = main(
        ["serve", "--config", str(config), "--start", "2016-04-01", "--interval", "1", "--once"]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert (
        "2016-04-02 calls: ingested 10 rows" in out and "2016-04-03 calls: ingested 5 rows" in out
    )
    assert "2016-04-01" not in out  # already ingested
    available = su.execute(
        "SELECT cdr_date FROM etl.available_dates WHERE cdr_type = 'calls' AND cdr_date >= '2016-04-01' "
        "ORDER BY 1"
    ).fetchall()
    assert [d for (d,) in available] == DAYS
    # another look finds nothing waiting, and says so
    assert main(["serve", "--config", str(config), "--start", "2016-04-01", "--once"]) == 0
    assert "nothing to load" in capsys.readouterr().out

    code = main(["status", "--start", "2016-04-01", "--end", "2016-04-03"])
    out = capsys.readouterr().out
    assert code == 0
    assert out.count("ingested") == 3, out
