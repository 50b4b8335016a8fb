"""What `flowetl status` shows: per CDR type and day, the latest load state, why it failed, and a QA summary."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import psycopg


@dataclass(frozen=True)
class DayStatus:
    cdr_type: str
    day: dt.date
    state: str  # the latest etl_records state: ingested, failed, ...
    when: dt.datetime
    detail: str | None  # why it failed (None for a load that worked)
    available: bool  # served to analysts (an earlier load survives a failed reload)
    qa_checks: int  # QA outcomes recorded for the day (latest per check)


def day_statuses(
    conn: psycopg.Connection,
    start: dt.date | None = None,
    end: dt.date | None = None,
    cdr_types: list[str] | None = None,
) -> list[DayStatus]:
    """The latest state of every (cdr_type, day) FlowDB has a record of, in [start, end] when given."""
    rows = conn.execute(
        """SELECT s.cdr_type, s.cdr_date, s.state, s.timestamp, r.detail,
                  a.cdr_date IS NOT NULL AS available,
                  (SELECT count(DISTINCT q.type_of_query_or_check) FROM etl.post_etl_queries q
                    WHERE q.cdr_type = s.cdr_type AND q.cdr_date = s.cdr_date) AS qa_checks
           FROM (SELECT DISTINCT ON (cdr_type, cdr_date) id, cdr_type, cdr_date, state, timestamp
                 FROM etl.etl_records ORDER BY cdr_type, cdr_date, timestamp DESC, id DESC) s
           JOIN etl.etl_records r ON r.id = s.id
           LEFT JOIN etl.available_dates a ON a.cdr_type = s.cdr_type AND a.cdr_date = s.cdr_date
           WHERE (%(start)s::date IS NULL OR s.cdr_date >= %(start)s)
             AND (%(end)s::date IS NULL OR s.cdr_date <= %(end)s)
             AND (%(types)s::text[] IS NULL OR s.cdr_type = ANY(%(types)s))
           ORDER BY s.cdr_date, s.cdr_type""",
        {"start": start, "end": end, "types": cdr_types},
    ).fetchall()
    return [DayStatus(*row) for row in rows]


def render(statuses: list[DayStatus]) -> str:
    """A plain-text table, one line per (day, type), with the failure's reason where there is one."""
    if not statuses:
        return "no loads recorded"
    lines = [f"{'day':<10}  {'type':<6}  {'state':<8}  {'served':<6}  {'QA':>3}  recorded"]
    for s in statuses:
        lines.append(
            f"{s.day.isoformat():<10}  {s.cdr_type:<6}  {s.state:<8}  "
            f"{'yes' if s.available else 'no':<6}  {s.qa_checks:>3}  {s.when:%Y-%m-%d %H:%M:%S}"
        )
        if s.state != "ingested" and s.detail:
            lines.append(f"{'':<10}  why: {s.detail}")
    return "\n".join(lines)
