"""`flowdb synthetic` end to end through the CLI, and its refusals."""

import pytest
from test_cluster import run_cli


def cluster_env(cluster) -> dict[str, str]:
    return {
        "FLOWDB_DATA_DIR": str(cluster.settings.data_dir),
        "FLOWDB_PORT": str(cluster.settings.port),
    }


SMALL = ["--n-days", "2", "--n-subscribers", "200", "--n-sites", "40", "--n-cells", "60", "--n-tacs", "20",
         "--n-calls", "500", "--n-sms", "200", "--n-mds", "100", "--n-topups", "50",
         "--n-admin1", "2", "--n-admin2", "4", "--n-admin3", "10"]  # fmt: skip


def test_python_generator_through_the_cli(cluster, db):
    result = run_cli("synthetic", "--generator", "python", "--event-indexes", "msisdn", *SMALL,
                     env=cluster_env(cluster))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "loaded 3,100 events (calls 2,000, sms 800, mds 200, topups 100)" in result.stdout
    days = db.execute(
        "SELECT count(*) FROM etl.available_dates WHERE cdr_type = 'calls'"
    ).fetchone()[0]
    assert days == 2
    indexes = db.execute(
        "SELECT count(*) FROM pg_indexes WHERE schemaname = 'events' AND tablename = 'calls_20160101'"
    ).fetchone()[0]
    assert indexes == 1


def test_if_empty_keeps_existing_data(cluster, db):
    env = {**cluster_env(cluster), "N_CALLS": "300"}
    first = run_cli("synthetic", *SMALL, env=env)
    assert first.returncode == 0, first.stderr
    before = db.execute("SELECT count(*) FROM events.calls").fetchone()[0]
    again = run_cli("synthetic", "--if-empty", env={**env, "N_CALLS": "900"})
    assert again.returncode == 0 and "not generating" in again.stdout
    assert db.execute("SELECT count(*) FROM events.calls").fetchone()[0] == before


def test_environment_variables_configure_the_generator(cluster, db):
    env = {**cluster_env(cluster), "N_DAYS": "3", "N_CALLS": "123", "N_SMS": "0", "N_MDS": "0",
           "N_TOPUPS": "0", "N_SUBSCRIBERS": "50", "N_CELLS": "30", "N_SITES": "30",
           "SYNTHETIC_DATA_GENERATOR": "sql"}  # fmt: skip
    result = run_cli("synthetic", env=env)
    assert result.returncode == 0, result.stderr
    # The native generator was built into the cluster's data directory and used.
    assert f"native generator {cluster.settings.data_dir}/lib/flowdb_synthetic-" in result.stdout
    per_day = db.execute(
        "SELECT datetime::date, count(*) FROM events.calls GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert [n for _, n in per_day] == [246, 246, 246]
    assert db.execute("SELECT count(*) FROM events.sms").fetchone()[0] == 0


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--generator", "perl"], {}, "unknown generator 'perl'"),
        ([], {"SYNTHETIC_DATA_GENERATOR": "excel"}, "unknown generator 'excel'"),
        (["--n-calls", "-5"], {}, "N_CALLS must not be negative, got -5"),
        ([], {"N_SUBSCRIBERS": "-1"}, "N_SUBSCRIBERS must not be negative, got -1"),
        (["--n-days", "seven"], {}, "N_DAYS must be a whole number, got 'seven'"),
        (["--p-relocate", "1.5"], {}, "P_RELOCATE must be a probability between 0 and 1, got 1.5"),
        (["--n-cells", "10", "--n-sites", "20"], {}, "N_CELLS (10) must be at least N_SITES (20)"),
        (
            [
                "--disaster-start",
                "2016-01-05",
                "--disaster-end",
                "2016-01-01",
                "--disaster-region-pcod",
                "X",
            ],
            {},
            "DISASTER_START (2016-01-05) is after DISASTER_END (2016-01-01)",
        ),  # fmt: skip
        (["--disaster-start", "tomorrow"], {}, "DISASTER_START must be a date (YYYY-MM-DD)"),
        (["--event-indexes", "msisdn,imei"], {}, "EVENT_INDEXES may only name"),
        (
            ["--generator", "sql"],
            {"FLOWDB_SYNTHETIC_LIBRARY": "/nonexistent/flowdb_synthetic.so"},
            "FLOWDB_SYNTHETIC_LIBRARY /nonexistent/flowdb_synthetic.so does not exist",
        ),
    ],
)
def test_bad_parameters_are_one_line_errors_and_change_nothing(cluster, db, args, env, message):
    before = db.execute("SELECT count(*) FROM etl.etl_records").fetchone()[0]
    result = run_cli("synthetic", *args, env={**cluster_env(cluster), **env})
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("flowdb: error: ")
    assert message in lines[0]
    assert db.execute("SELECT count(*) FROM etl.etl_records").fetchone()[0] == before


def test_synthetic_against_a_stopped_flowdb_is_a_clear_error(scratch_root):
    from flowdb.testing import free_port

    result = run_cli(
        "synthetic",
        env={"FLOWDB_DATA_DIR": str(scratch_root / "absent"), "FLOWDB_PORT": str(free_port())},
    )
    assert result.returncode == 1
    assert result.stderr.startswith("flowdb: error: cannot reach FlowDB")
    assert len(result.stderr.strip().splitlines()) == 1


def test_regenerating_empties_flowmachines_result_cache(cluster, db):
    """Cached results describe the events being replaced: a new synthetic run drops them."""
    db.execute("CREATE TABLE cache.xstale (value int)")
    db.execute(
        "INSERT INTO cache.cached (query_id, schema, tablename, class) "
        "VALUES ('stale', 'cache', 'xstale', 'Test')"
    )
    result = run_cli("synthetic", *SMALL, env=cluster_env(cluster))
    assert result.returncode == 0, result.stderr
    assert db.execute("SELECT to_regclass('cache.xstale')").fetchone()[0] is None
    assert db.execute("SELECT count(*) FROM cache.cached").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM cache.cache_config").fetchone()[0] > 0
