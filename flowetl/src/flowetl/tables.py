"""Names of the relations one load of (cdr_type, day) uses, composed only from allow-listed parts."""

from __future__ import annotations

import datetime as dt

from psycopg import sql

from flowetl.config import CDR_TYPES
from flowetl.macros import ETL_SCHEMA, FINAL_SCHEMA, table_name


def name(cdr_type: str, day: dt.date) -> str:
    if cdr_type not in CDR_TYPES:
        raise ValueError(f"unknown CDR type {cdr_type!r} (one of {', '.join(CDR_TYPES)})")
    return table_name(cdr_type, day)


def extract(cdr_type: str, day: dt.date) -> sql.Identifier:
    return sql.Identifier(ETL_SCHEMA, f"extract_{name(cdr_type, day)}")


def staging(cdr_type: str, day: dt.date) -> sql.Identifier:
    return sql.Identifier(ETL_SCHEMA, f"stg_{name(cdr_type, day)}")


def final(cdr_type: str, day: dt.date) -> sql.Identifier:
    return sql.Identifier(FINAL_SCHEMA, name(cdr_type, day))


def parent(cdr_type: str) -> sql.Identifier:
    if cdr_type not in CDR_TYPES:
        raise ValueError(f"unknown CDR type {cdr_type!r}")
    return sql.Identifier(FINAL_SCHEMA, cdr_type)


def index_name(cdr_type: str, day: dt.date, column: str) -> sql.Identifier:
    """FlowKit's `<table_name>_<column>_idx` (column already checked against the type's columns)."""
    return sql.Identifier(f"{name(cdr_type, day)}_{column}_idx")


def day_check_name(cdr_type: str, day: dt.date) -> sql.Identifier:
    return sql.Identifier(f"{name(cdr_type, day)}_day_check")


def bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The day's half-open range [midnight, next midnight) in UTC, FlowDB's time zone."""
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    return start, start + dt.timedelta(days=1)
