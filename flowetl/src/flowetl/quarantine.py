"""etl.quarantine: each malformed input, and the bad rows of a day (their number and raw content)."""

from __future__ import annotations

import datetime as dt

import psycopg
from psycopg import sql

from flowetl import errors, tables
from flowetl.errors import LoadFailed

# Bad rows recorded one by one at most (the rest are counted in a summary row).
MAX_ROWS_RECORDED = 1000


def record(conn: psycopg.Connection, cdr_type: str, day: dt.date, problem: LoadFailed) -> None:
    """One quarantine row for a whole-input problem (or the first bad row COPY stopped at)."""
    conn.execute(
        """INSERT INTO etl.quarantine (cdr_type, cdr_date, reason, detail, row_number, raw)
           VALUES (%s, %s, %s, %s, %s, %s)""",
        (
            cdr_type,
            day,
            problem.reason,
            problem.detail,
            getattr(problem, "row_number", None),
            getattr(problem, "raw", None),
        ),
    )


def bad_row_condition(day: dt.date) -> sql.Composable:
    """True for a row that cannot be part of the day's partition."""
    start, end = tables.bounds(day)
    return sql.SQL(
        "(msisdn IS NULL OR datetime IS NULL OR datetime < {} OR datetime >= {})"
    ).format(sql.Literal(start), sql.Literal(end))


def record_bad_rows(conn: psycopg.Connection, cdr_type: str, day: dt.date) -> dict[str, int]:
    """Quarantine the extract table's bad rows (the first MAX_ROWS_RECORDED of them one by one, numbered by
    their position in the day's input); return how many there are per reason."""
    start, end = tables.bounds(day)
    reason = sql.SQL(
        "CASE WHEN msisdn IS NULL THEN {} WHEN datetime IS NULL THEN {} ELSE {} END"
    ).format(
        sql.Literal(errors.NULL_MSISDN),
        sql.Literal(errors.NULL_DATETIME),
        sql.Literal(errors.OUTSIDE_DAY),
    )
    extract = tables.extract(cdr_type, day)
    counts: dict[str, int] = dict(
        conn.execute(
            sql.SQL("SELECT {} AS reason, count(*) FROM {} WHERE {} GROUP BY 1").format(
                reason, extract, bad_row_condition(day)
            )
        ).fetchall()
    )
    conn.execute(
        sql.SQL(
            """INSERT INTO etl.quarantine (cdr_type, cdr_date, reason, detail, row_number, raw)
               SELECT {cdr_type}, {day}, {reason},
                      CASE WHEN msisdn IS NOT NULL AND datetime IS NOT NULL
                           THEN 'datetime ' || datetime || ' is not in [' || {start} || ', ' || {end} || ')'
                      END,
                      n, (row_to_json(r)::jsonb - 'n')::text
               FROM (SELECT row_number() OVER (ORDER BY ctid) AS n, e.* FROM {extract} e) r
               WHERE {bad}
               ORDER BY n LIMIT {limit}"""
        ).format(
            cdr_type=sql.Literal(cdr_type),
            day=sql.Literal(day),
            reason=reason,
            start=sql.Literal(start.isoformat()),
            end=sql.Literal(end.isoformat()),
            extract=extract,
            bad=bad_row_condition(day),
            limit=sql.Literal(MAX_ROWS_RECORDED),
        )
    )
    return {str(k): int(v) for k, v in counts.items()}
