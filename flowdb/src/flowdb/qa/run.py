"""Running a day's QA checks and recording their outcomes in `etl.post_etl_queries`, as FlowETL does after each
load (and FlowKit's synthetic image after generating each day)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from flowdb.qa.combined import default_check_names, default_outcomes
from flowdb.qa.macros import check_cdr_type
from flowdb.qa.templates import find_qa_checks, template_outcomes


@dataclass(frozen=True)
class QAResult:
    """One day's QA run: outcomes by check name (PostgreSQL's text for each value, None for NULL), the checks
    that failed with their error message (no outcome is recorded for them), and how long it took."""

    cdr_type: str
    day: dt.date
    outcomes: dict[str, str | None]
    errors: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


def store_outcomes(
    conn: psycopg.Connection, cdr_type: str, day: dt.date, outcomes: Mapping[str, str | None]
) -> None:
    """Append one `etl.post_etl_queries` row per outcome (one statement, one timestamp). The latest row of each
    (date, type, check) is the one `etl.deduped_post_etl_queries` and FlowAPI's QA routes serve."""
    check_cdr_type(cdr_type)
    names = sorted(outcomes)
    conn.execute(
        """INSERT INTO etl.post_etl_queries (cdr_date, cdr_type, type_of_query_or_check, outcome, timestamp)
           SELECT %(day)s::date, %(cdr_type)s, name, outcome, now()
           FROM unnest(%(names)s::text[], %(outcomes)s::text[]) AS u(name, outcome)""",
        {
            "day": day,
            "cdr_type": cdr_type,
            "names": names,
            "outcomes": [outcomes[n] for n in names],
        },
    )


def record_default_checks(
    conn: psycopg.Connection,
    cdr_type: str,
    day: dt.date,
    *,
    table: sql.Identifier | None = None,
) -> dict[str, str | None]:
    """Compute FlowKit's default checks of one day in one statement and record them; return the outcomes."""
    outcomes = default_outcomes(conn, cdr_type, day, table=table)
    store_outcomes(conn, cdr_type, day, outcomes)
    return outcomes


def run_qa_checks(
    conn: psycopg.Connection,
    cdr_type: str,
    day: dt.date,
    *,
    extra_directories: Iterable[str | Path] = (),
    extra_macros: Mapping[str, Any] | None = None,
    table: sql.Identifier | None = None,
    store: bool = True,
    defaults: Mapping[str, str | None] | None = None,
) -> QAResult:
    """Every check that applies to one day of `cdr_type`: FlowKit's defaults (in one statement) and the user's
    templates found in `extra_directories` (qa_checks/*.sql, qa_checks/<cdr_type>/*.sql, one query each; a
    user template with a default's path replaces it). With `store`, the outcomes are recorded in
    `etl.post_etl_queries`. `table` is the relation holding the day (default `events.<type>_<YYYYMMDD>`); the
    `final_table` macro then names it. `defaults` are FlowKit's default checks of the day computed already
    (by `default_outcomes`, e.g. while the loader was still indexing the day); they are then not computed again."""
    started = time.monotonic()
    checks = find_qa_checks(cdr_type, extra_directories)
    builtin = set(default_check_names(cdr_type))
    fast = [c for c in checks if c.is_default and c.name in builtin]
    rest = [c for c in checks if not (c.is_default and c.name in builtin)]
    outcomes: dict[str, str | None] = {}
    if fast:
        computed = (
            defaults if defaults is not None else default_outcomes(conn, cdr_type, day, table=table)
        )
        outcomes.update({c.name: computed[c.name] for c in fast})
    user, errors = template_outcomes(
        conn,
        cdr_type,
        day,
        rest,
        extra_directories=extra_directories,
        extra_macros=extra_macros,
        table=table,
    )
    outcomes.update(user)
    outcomes = dict(sorted(outcomes.items()))
    if store and outcomes:
        store_outcomes(conn, cdr_type, day, outcomes)
    return QAResult(cdr_type, day, outcomes, errors, time.monotonic() - started)
