"""A `flowetl load` process killed with SIGKILL in the middle of its COPY: the day's previous partition is
untouched, and the next run leaves no stray etl tables and loads the day."""

from __future__ import annotations

import datetime as dt
import gzip
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import yaml

from etl_helpers import CALLS_FIELDS, calls_rows, write_csv
from flowdb.cluster import Cluster


def _config(landing: Path) -> Path:
    path = landing / "etl.yml"
    spec = {
        "source": {
            "file": {
                "path": str(landing / "{{ cdr_type }}_{{ ds_nodash }}.csv.gz"),
                "fields": {**CALLS_FIELDS, "imei": "TEXT"},
                "header": False,
            }
        },
        # a staging table and the extract SQL, so the killed transaction holds both
        "extract_sql": """SELECT id, outgoing, datetime, duration, NULL::text, msisdn, msisdn_counterpart,
                                 location_id, NULL::text, imei, NULL::numeric, NULL::numeric, NULL::numeric
                          FROM {{ staging_table }}""",
        "data_present": {"timeout": 0},
        "flux_check": {"enabled": False},
    }
    path.write_text(yaml.safe_dump({"cdr_types": {"calls": spec}}, sort_keys=False))
    return path


def _run(cluster: Cluster, config: Path, day: dt.date) -> subprocess.Popen:
    env = {
        **os.environ,
        "FLOWDB_HOST": "127.0.0.1",
        "FLOWDB_PORT": str(cluster.status().port),
        "FLOWETL_FLOWDB_PASSWORD": cluster.settings.flowetl_password,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "flowetl.cli", "load", "--config", str(config), "--cdr-type", "calls",
         "--date", day.isoformat()],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


def _copy_in_progress(su: psycopg.Connection) -> int:
    row = su.execute(
        """SELECT p.tuples_processed FROM pg_stat_progress_copy p
           JOIN pg_stat_activity a ON a.pid = p.pid WHERE a.application_name = 'flowetl'"""
    ).fetchone()
    return row[0] if row else 0


def test_killed_mid_copy_leaves_the_old_partition_and_nothing_stray(cluster, su, landing) -> None:
    day = dt.date(2016, 4, 1)
    config = _config(landing)
    path = landing / "calls_20160401.csv.gz"
    write_csv(path, [r + ["imei-old"] for r in calls_rows(day, 10)])
    first = _run(cluster, config, day)
    assert first.wait(timeout=120) == 0, first.stderr.read()
    # a large-ish new file: the reload's COPY takes long enough to be caught in the act
    line = ",".join(calls_rows(day, 1, tag="new")[0]) + ",imei-new-" + "x" * 200 + "\n"
    with gzip.open(path, "wt", compresslevel=1) as f:
        for _ in range(40):
            f.write(line * 20000)
    second = _run(cluster, config, day)
    try:
        deadline = time.monotonic() + 60
        while _copy_in_progress(su) < 1000:
            assert second.poll() is None, "the load finished before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.005)
        second.send_signal(signal.SIGKILL)
    finally:
        second.wait(timeout=30)
    assert second.returncode == -signal.SIGKILL
    # PostgreSQL notices the lost client and rolls back: the old day is whole and attached.
    deadline = time.monotonic() + 30
    while su.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'flowetl'"
    ).fetchone()[0]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert su.execute(
        "SELECT count(*), min(imei) FROM events.calls WHERE datetime::date = %s", (day,)
    ).fetchone() == (
        10,
        "imei-old",
    )
    assert (
        su.execute(
            "SELECT count(*) FROM etl.available_dates WHERE cdr_type = 'calls' AND cdr_date = %s",
            (day,),
        ).fetchone()[0]
        == 1
    )
    # The next run loads the new file and leaves no etl scratch tables.
    third = _run(cluster, config, day)
    out, err = third.communicate(timeout=300)
    assert third.returncode == 0, err
    assert "ingested 800000 rows" in out
    assert (
        su.execute(
            "SELECT count(*) FROM events.calls_20160401 WHERE imei LIKE 'imei-new-%%'"
        ).fetchone()[0]
        == 800000
    )
    assert (
        su.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'etl' AND (relname LIKE 'extract\\_%%' OR relname LIKE 'stg\\_%%')"
        ).fetchone()[0]
        == 0
    )
