"""Small pieces of SQL built from fixed column names."""

from __future__ import annotations

from collections.abc import Sequence

from psycopg import sql


def identifiers(
    columns: Sequence[str], alias: str | None = None, suffix: str = ""
) -> sql.Composable:
    """`a.c1, a.c2` (or with ` DESC` etc. via `suffix`)."""
    parts = [
        sql.SQL("{}{}").format(
            sql.Identifier(alias, c) if alias else sql.Identifier(c), sql.SQL(suffix)
        )
        for c in columns
    ]
    return sql.SQL(", ").join(parts)
