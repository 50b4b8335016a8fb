"""A day FlowETL ingests answers a FlowAPI query: an operator's calls file for a new day (after the fixture's
days), loaded by the `flowetl load` command with the example configuration of docker-compose.yml's `flowetl`
service, becomes one of flowclient's available dates, and a spatial aggregate of that day's daily locations
equals a pandas computation on the same file (counts of 15 or fewer redacted, as FlowKit does).

The stack is shared by the session, so the day is removed again at the end (partition, ETL and QA records,
and `events.location_ids` as it was)."""

from __future__ import annotations

import datetime as dt
import gzip
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from psycopg import sql

import flowclient as fc
from flowclient import aggregates as ag
from flowdb.settings import FLOWETL_ROLE
from integration_helpers import BIN, Stack

DAY = dt.date(2016, 3, 10)  # no other test's dates reach it
PARTITION = f"events.calls_{DAY:%Y%m%d}"
EXAMPLE_CONFIG = Path(__file__).resolve().parents[1] / "flowetl" / "examples" / "etl.yml"
N_SUBSCRIBERS, N_ROWS = 300, 3000
# Cells in service on every day, of one version, inside exactly one admin3 unit: (cell id, admin3 pcod).
CLEAN_CELLS_SQL = """
    SELECT c.id, min(a.admin3pcod)
    FROM infrastructure.cells c JOIN geography.admin3 a ON ST_Covers(a.geom, c.geom_point)
    WHERE c.date_of_first_service IS NULL AND c.date_of_last_service IS NULL
      AND NOT EXISTS (SELECT 1 FROM infrastructure.cells o WHERE o.id = c.id AND o.cell_id <> c.cell_id)
    GROUP BY c.id HAVING count(*) = 1 ORDER BY c.id"""


@dataclass
class IngestedDay:
    rows: pd.DataFrame  # the file's rows
    admin3: dict[str, str]  # cell id -> admin3 pcod
    output: str  # what `flowetl load` printed


def write_calls_file(path: Path, cells: list[str]) -> pd.DataFrame:
    """N_ROWS calls rows on DAY in the example configuration's file format, every timestamp distinct; the
    last cell is rare, so its admin3 unit falls under the redaction threshold."""
    rng = np.random.default_rng(20160310)
    weights = np.ones(len(cells))
    weights[-1] = 0.05
    seconds = np.sort(rng.choice(86400, size=N_ROWS, replace=False))
    start = pd.Timestamp(DAY, tz="UTC")
    rows = pd.DataFrame(
        {
            "call_id": [f"etl-it-{i}" for i in range(N_ROWS)],
            "msisdn": [f"etlsub{i:04d}" for i in rng.integers(N_SUBSCRIBERS, size=N_ROWS)],
            "msisdn_counterpart": [
                f"etlsub{i:04d}" for i in rng.integers(N_SUBSCRIBERS, size=N_ROWS)
            ],
            "outgoing": rng.random(N_ROWS) < 0.5,
            "event_time": start + pd.to_timedelta(seconds, unit="s"),
            "duration": rng.integers(1, 600, size=N_ROWS),
            "cell_id": rng.choice(cells, size=N_ROWS, p=weights / weights.sum()),
        }
    )
    out = rows.assign(
        outgoing=rows["outgoing"].map({True: "true", False: "false"}),
        event_time=rows["event_time"].dt.strftime("%Y-%m-%d %H:%M:%S+00"),
    )
    path.write_bytes(gzip.compress(out.to_csv(index=False).encode()))
    return rows


def remove_day(stack: Stack, location_ids: list[tuple]) -> None:
    """As FlowDB's superuser: the day's partition, ETL, quarantine and QA records go; location_ids as before."""
    with stack.cluster.connect() as db:
        db.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(*PARTITION.split("."))))
        for table in ("etl_records", "quarantine", "post_etl_queries"):
            db.execute(
                sql.SQL("DELETE FROM {} WHERE cdr_type = 'calls' AND cdr_date = %s").format(
                    sql.Identifier("etl", table)
                ),
                (DAY,),
            )
        db.execute("DELETE FROM events.location_ids WHERE cdr_type = 'calls'")
        with db.cursor() as cur:
            cur.executemany(
                "INSERT INTO events.location_ids (location_id, cdr_type, first_active_date, "
                "last_active_date) VALUES (%s, %s, %s, %s)",
                location_ids,
            )
        db.commit()


@pytest.fixture
def ingested_day(stack: Stack, conn: fc.Connection, tmp_path: Path) -> Iterator[IngestedDay]:
    """DAY's calls file in a landing folder, loaded by `flowetl load` as FlowETL's own role; removed after."""
    with stack.cluster.connect() as db:
        admin3 = dict(db.execute(CLEAN_CELLS_SQL).fetchall())
        location_ids = db.execute(
            "SELECT location_id, cdr_type, first_active_date, last_active_date "
            "FROM events.location_ids WHERE cdr_type = 'calls'"
        ).fetchall()
        assert not db.execute("SELECT to_regclass(%s)", (PARTITION,)).fetchone()[0]
    assert len(admin3) >= 4, admin3
    landing = tmp_path / "landing"
    landing.mkdir()
    rows = write_calls_file(landing / f"calls_{DAY:%Y%m%d}.csv.gz", sorted(admin3))
    # the compose service's example configuration, its calls files read from this landing folder
    example = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    calls = example["cdr_types"]["calls"]
    calls["source"]["file"]["path"] = calls["source"]["file"]["path"].replace(
        "/landing/", f"{landing}/"
    )
    calls["flux_check"] = {
        "enabled": False
    }  # the file is complete: no need to watch it for a minute
    config = tmp_path / "etl.yml"
    config.write_text(yaml.safe_dump({"cdr_types": {"calls": calls}}, sort_keys=False))
    env = {
        **os.environ,
        "FLOWDB_HOST": "127.0.0.1",
        "FLOWDB_PORT": str(stack.flowdb_port),
        "FLOWETL_FLOWDB_USER": FLOWETL_ROLE,
        "FLOWETL_FLOWDB_PASSWORD": stack.cluster.settings.role_password(FLOWETL_ROLE),
        "FLOWETL_HOME": str(tmp_path / "flowetl-home"),
    }
    try:
        done = subprocess.run(
            [str(BIN / "flowetl"), "load", "--config", str(config), "--cdr-type", "calls",
             "--date", DAY.isoformat()],
            env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        assert done.returncode == 0, f"flowetl load failed:\n{done.stdout}\n{done.stderr}"
        yield IngestedDay(rows, admin3, done.stdout)
    finally:
        remove_day(stack, location_ids)
    assert DAY.isoformat() not in fc.get_available_dates(connection=conn)["calls"]


def test_an_ingested_day_answers_a_flowapi_query(ingested_day: IngestedDay, conn) -> None:
    assert f"ingested {N_ROWS} rows" in ingested_day.output
    assert (
        DAY.isoformat() in fc.get_available_dates(connection=conn, event_types=["calls"])["calls"]
    )

    spec = ag.spatial_aggregate_spec(
        locations=fc.daily_location_spec(
            date=DAY.isoformat(), aggregation_unit="admin3", method="last"
        )
    )
    result = fc.get_result(connection=conn, query_spec=spec, disable_progress=True)

    # pandas on the same file: each subscriber's last cell of the day, its admin3 unit, subscribers per unit
    rows = ingested_day.rows
    last = rows.sort_values("event_time").groupby("msisdn")["cell_id"].last()
    per_unit = last.map(ingested_day.admin3).value_counts()
    expected = {pcod: int(n) for pcod, n in per_unit.items() if n > 15}
    assert 0 < len(expected) < len(per_unit), "the fixture should keep some units and redact one"
    assert dict(zip(result["pcod"], result["value"].astype(int), strict=True)) == expected
