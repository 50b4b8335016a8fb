"""QA checks run by a load: FlowKit's defaults for the type, and the user's templates in qa_check_paths, recorded
in etl.post_etl_queries as FlowETL's role; a check that fails never fails the load."""

from __future__ import annotations

import datetime as dt

from etl_helpers import CALLS_FIELDS, calls_rows, config_for, write_csv
from flowetl.pipeline import load_day


def test_a_load_records_the_default_checks_and_the_users(etl, su, landing, tmp_path) -> None:
    day = dt.date(2016, 5, 1)
    write_csv(landing / "calls_20160501.csv", calls_rows(day, 30), header=list(CALLS_FIELDS))
    checks = tmp_path / "checks" / "qa_checks"
    (checks / "calls").mkdir(parents=True)
    (checks / "rows_twice.sql").write_text("SELECT count(*) * 2 FROM {{ final_table }}")
    (checks / "calls" / "broken.sql").write_text("SELECT no_such_column FROM {{ final_table }}")
    spec = {
        "source": {
            "file": {
                "path": str(landing / "calls_{{ ds_nodash }}.csv"),
                "format": "csv",
                "fields": CALLS_FIELDS,
            }
        },
        "qa_check_paths": [str(tmp_path / "checks")],
    }
    load_day(etl, config_for("calls", spec).source("calls"), day)
    outcomes = dict(
        su.execute(
            "SELECT type_of_query_or_check, outcome FROM etl.deduped_post_etl_queries "
            "WHERE cdr_type = 'calls' AND cdr_date = %s",
            (day,),
        ).fetchall()
    )
    assert outcomes["count_added_rows"] == "30"
    assert outcomes["rows_twice"] == "60"
    assert "broken.calls" not in outcomes  # failed: reported, no outcome, the load stands
    assert len(outcomes) == 24 + 1  # FlowKit's 24 calls checks and the user's working one
    assert su.execute(
        "SELECT state FROM etl.ingest_state WHERE cdr_type = 'calls' AND cdr_date = %s", (day,)
    ).fetchone() == ("ingested",)
