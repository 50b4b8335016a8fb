"""The synthetic operator files (`flowdb synthetic --operator-files`) through `flowetl load`, with the
configuration written beside them, as `make demo` ingests its extra day."""

from __future__ import annotations

import datetime as dt
import gzip
import os
from functools import partial
from pathlib import Path

import psycopg
import pytest

from flowdb.cluster import Cluster
from flowdb.synthetic.config import SyntheticConfig
from flowdb.synthetic.operator_files import BAD_ROWS, CONFIG_NAME
from flowdb.synthetic.run import generate
from flowetl.cli import main
from flowetl.config import load_config
from flowetl.sources import file_path

DAY = dt.date(2016, 1, 2)  # the day after the one generated day


def test_the_generated_day_loads_with_its_bad_rows_set_aside(
    cluster: Cluster, su, etl_root: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    config = SyntheticConfig(
        generator="python",
        n_days=1,
        n_subscribers=200,
        n_sites=30,
        n_cells=40,
        n_tacs=10,
        n_calls=800,
        n_sms=0,
        n_mds=0,
        n_topups=150,
        n_admin1=1,
        n_admin2=2,
        n_admin3=4,
    ).validate()
    landing = etl_root / "synthetic-landing"  # readable by the test, wherever it is run from
    generate(
        partial(psycopg.connect, cluster.settings.url(), autocommit=True),
        config,
        operator_files=landing,
    )

    # The configuration's paths are relative to its folder: it is read from anywhere.
    monkeypatch.chdir(tmp_path)
    etl_config = load_config(landing / CONFIG_NAME)
    assert sorted(etl_config.cdr_types) == ["calls", "topups"]
    assert file_path(etl_config.source("calls"), DAY) == landing / "calls_20160102.csv.gz"

    monkeypatch.setenv("FLOWDB_HOST", "127.0.0.1")
    monkeypatch.setenv("FLOWDB_PORT", str(cluster.status().port))
    monkeypatch.setenv("FLOWETL_FLOWDB_PASSWORD", cluster.settings.role_password("flowetl"))
    bad = sum(BAD_ROWS.values())
    for cdr_type in ("calls", "topups"):
        with gzip.open(landing / f"{cdr_type}_20160102.csv.gz", "rt") as f:
            in_file = sum(1 for _ in f) - 1  # less the header
        argv = ["load", "--config", os.fspath(landing / CONFIG_NAME), "--cdr-type", cdr_type]
        assert main([*argv, "--date", DAY.isoformat()]) == 0
        assert f"ingested {in_file - bad} rows, {bad} bad rows set aside" in capsys.readouterr().out
        loaded = su.execute(f"SELECT count(*) FROM events.{cdr_type}_20160102").fetchone()[0]
        assert loaded == in_file - bad
        reasons = su.execute(
            "SELECT reason, count(*) FROM etl.quarantine WHERE cdr_type = %s AND cdr_date = %s "
            "GROUP BY 1 ORDER BY 1",
            (cdr_type, DAY),
        ).fetchall()
        assert dict(reasons) == BAD_ROWS
        added = su.execute(
            "SELECT outcome FROM etl.post_etl_queries WHERE cdr_type = %s AND cdr_date = %s "
            "AND type_of_query_or_check = 'count_added_rows'",
            (cdr_type, DAY),
        ).fetchone()[0]
        assert int(added) == loaded
    days = su.execute("SELECT DISTINCT cdr_date FROM etl.available_dates ORDER BY 1").fetchall()
    assert [d for (d,) in days] == [DAY - dt.timedelta(days=1), DAY]


@pytest.fixture(autouse=True)
def _no_leftover_events(cluster: Cluster):
    """Other modules' loads choose their own days; the world generated here is removed afterwards."""
    yield
    from flowdb.synthetic.run import clear_events

    with psycopg.connect(cluster.settings.url(), autocommit=True) as conn:
        clear_events(conn)
