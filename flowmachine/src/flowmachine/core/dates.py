"""Dates and times of query windows: parsed like FlowKit's `fromisoformat`, held as UTC instants.

FlowKit formats every date to a naive `YYYY-MM-DD HH:MM:SS` string and compares it with `timestamptz`, so the
database session's time zone decides what it means; FlowDB runs in UTC. Here a naive value *is* UTC and an
aware one is converted to UTC (FlowKit silently dropped its offset). SQL gets `timestamptz` constants, which
the planner can compare with partition bounds, so partitions outside the window are pruned at plan time.
"""

from __future__ import annotations

import datetime as dt

from psycopg import sql

UTC = dt.UTC


def to_datetime(value: str | dt.date | dt.datetime) -> dt.datetime:
    """A naive UTC datetime from an ISO string, a date or a datetime."""
    if isinstance(value, str):
        text = value.strip()
        try:
            parsed: dt.date | dt.datetime = dt.datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO date or datetime") from None
        value = parsed
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    raise TypeError(f"expected a date, got {type(value).__name__}")


def timestamp_literal(value: dt.datetime) -> sql.Composable:
    """A `timestamptz` SQL constant for a naive UTC datetime."""
    return sql.Literal(value.replace(tzinfo=UTC))


def date_literal(value: dt.date) -> sql.Composable:
    return sql.SQL("{}::date").format(sql.Literal(value.isoformat()))
