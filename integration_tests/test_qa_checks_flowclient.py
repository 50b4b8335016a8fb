"""QA outcomes recorded in FlowDB by flowdb.qa (as FlowETL and `flowdb synthetic` record them) reach an analyst
through FlowAPI's QA routes and flowclient, FlowKit 1.34's functions."""

from __future__ import annotations

import datetime as dt

import flowclient as fc
from flowdb.qa import record_default_checks

DAYS = (dt.date(2016, 1, 2), dt.date(2016, 1, 3))


def test_recorded_qa_checks_through_flowclient(stack, conn) -> None:
    with stack.cluster.connect() as db:
        recorded = {day: record_default_checks(db, "calls", day) for day in DAYS}
        db.commit()
    try:
        available = fc.get_available_qa_checks(connection=conn, event_types=["calls"])
        names = {c["type_of_query_or_check"] for c in available}
        assert {"median_duration.calls", "count_added_rows", "count_msisdns"} <= names
        for check in ("count_added_rows", "median_duration.calls", "latest_timestamp"):
            outcomes = fc.get_qa_check_outcomes(
                connection=conn,
                event_type="calls",
                check_type=check,
                start_date=DAYS[0],
                end_date=DAYS[-1],
            )
            assert [(o["cdr_date"], o["outcome"]) for o in outcomes] == [
                (str(day), recorded[day][check]) for day in DAYS
            ]
    finally:
        with stack.cluster.connect() as db:
            db.execute(
                "DELETE FROM etl.post_etl_queries WHERE cdr_type = 'calls' AND cdr_date = ANY(%s)",
                (list(DAYS),),
            )
            db.commit()
