"""Aggregate statistics by name (FlowKit's `Statistic` enum), as SQL over one expression."""

from __future__ import annotations

from psycopg import sql

from flowmachine.core.errors import InvalidSpecError

_TEMPLATES = {
    "count": "count({})",
    "sum": "sum({})",
    "avg": "avg({})",
    "max": "max({})",
    "min": "min({})",
    "median": "percentile_cont(0.5) WITHIN GROUP (ORDER BY {})",
    "stddev": "stddev_samp({})",
    "variance": "var_samp({})",
    "mode": "mode() WITHIN GROUP (ORDER BY {})",
}
STATISTICS = tuple(_TEMPLATES)


def check_statistic(name: str) -> str:
    if name not in _TEMPLATES:
        raise InvalidSpecError(f"statistic must be one of {', '.join(STATISTICS)}, not {name!r}")
    return name


def statistic_sql(name: str, expression: sql.Composable) -> sql.Composable:
    return sql.SQL(_TEMPLATES[check_statistic(name)]).format(expression)
