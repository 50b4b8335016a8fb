"""Bookkeeping around a load: leftovers of an earlier run dropped, failures recorded in `etl.etl_records`.

A failure is a row with state 'failed' and `detail` saying which step failed and why (migration 0006). It
does not hide an earlier successful load of the day from `etl.available_dates` (whose partition is still
attached); `etl.ingest_state` shows it as the day's latest state.
"""

from __future__ import annotations

import datetime as dt

import psycopg
from psycopg import sql

from flowetl import quarantine, tables
from flowetl.errors import DataNotPresent, InFlux, LoadFailed, MalformedInput

FAILED = "failed"
_DROP = {"r": "TABLE", "p": "TABLE", "v": "VIEW", "m": "MATERIALIZED VIEW", "f": "FOREIGN TABLE"}


def cleanup(conn: psycopg.Connection, cdr_type: str, day: dt.date) -> list[str]:
    """Drop what an interrupted or failed load of (cdr_type, day) left in `etl`; return what was dropped."""
    dropped = []
    name = tables.name(cdr_type, day)
    with conn.transaction():
        for prefix in ("extract_", "stg_"):
            relation = sql.Identifier("etl", prefix + name)
            kind = conn.execute(
                "SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)",
                (relation.as_string(conn),),
            ).fetchone()
            if kind is not None:
                conn.execute(
                    sql.SQL("DROP {} {}").format(sql.SQL(_DROP.get(kind[0], "TABLE")), relation)
                )
                dropped.append(f"etl.{prefix}{name}")
    return dropped


def record_failure(
    conn: psycopg.Connection, cdr_type: str, day: dt.date, failure: LoadFailed
) -> None:
    """An `etl.etl_records` row 'failed' with the reason; a problem with the input (missing, empty, still
    being written, malformed) is quarantined too."""
    with conn.transaction():
        if isinstance(failure, MalformedInput | InFlux | DataNotPresent) and not failure.recorded:
            quarantine.record(conn, cdr_type, day, failure)
            failure.recorded = True
        conn.execute(
            """INSERT INTO etl.etl_records (cdr_type, cdr_date, state, timestamp, detail)
               VALUES (%s, %s, %s, now(), %s)""",
            (cdr_type, day, FAILED, str(failure)),
        )
