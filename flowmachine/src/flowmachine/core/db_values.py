"""Reading the one value a statement returns (`SELECT count(*)`, `SELECT EXISTS (...)`, a setting)."""

from __future__ import annotations

from typing import Any

import psycopg


def first_value(cursor: psycopg.Cursor[Any]) -> Any:
    """The first column of the executed statement's first row; LookupError if it returned no row (never the case
    for the aggregates, `EXISTS` and function calls it is used on)."""
    row = cursor.fetchone()
    if row is None:
        raise LookupError("the statement returned no row")
    return row[0]
