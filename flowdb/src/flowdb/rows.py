"""Typed reads of statements that always return a row (`count(*)`, `to_regclass(...)`, a lock attempt).

psycopg's `fetchone()` is typed `Row | None`; these say once that no row is a bug, not a case to handle.
"""

from __future__ import annotations

from typing import Any, TypeVar

import psycopg

Row = TypeVar("Row")


def one_row(cursor: psycopg.Cursor[Row]) -> Row:
    """The cursor's next row; an error if the statement returned none."""
    row = cursor.fetchone()
    if row is None:
        raise RuntimeError("the statement returned no row where one was certain")
    return row


def scalar(cursor: psycopg.Cursor[Any]) -> Any:
    """The first column of the cursor's next row (e.g. `scalar(conn.execute("SELECT count(*) ..."))`)."""
    return one_row(cursor)[0]
