"""QA outcomes recorded by flowdb.qa (as FlowETL and `flowdb synthetic` record them) are what the server's
list_qa_checks and get_qa_checks actions serve."""

from __future__ import annotations

import datetime as dt

import pytest

from flowdb.qa import default_check_names, record_default_checks

DAYS = (dt.date(2016, 1, 1), dt.date(2016, 1, 2))


@pytest.fixture
def recorded(flowdb_cluster, fixture_db):
    with flowdb_cluster.connect() as conn:
        outcomes = {day: record_default_checks(conn, "sms", day) for day in DAYS}
        conn.commit()
    yield outcomes
    with flowdb_cluster.connect() as conn:
        conn.execute(
            "DELETE FROM etl.post_etl_queries WHERE cdr_type = 'sms' AND cdr_date = ANY(%s)",
            (list(DAYS),),
        )
        conn.commit()


def test_recorded_checks_are_listed_and_served(zmq_client, recorded) -> None:
    listed = zmq_client.request("list_qa_checks")["payload"]["available_qa_checks"]
    sms = {c["type_of_query_or_check"] for c in listed if c["cdr_type"] == "sms"}
    assert sms == set(default_check_names("sms")) and len(sms) == 21
    for check in ("count_added_rows", "count_onnet_msisdns.sms", "earliest_timestamp"):
        reply = zmq_client.request(
            "get_qa_checks",
            cdr_type="sms",
            check_type=check,
            start_date=str(DAYS[0]),
            end_date=str(DAYS[-1]),
        )
        assert reply["payload"]["qa_checks"] == [
            {"outcome": recorded[day][check], "cdr_date": str(day), "type_of_query_or_check": check}
            for day in DAYS
        ]
