"""FlowETL's template macros for one (CDR type, day): the names its SQL templates (QA checks, extract and staging
SQL, file paths) may use, with FlowKit 1.34's values.

Every value that names a table is built from a CDR type in the fixed allow-list `QA_CDR_TYPES` and a date, so it
is a plain lower-case identifier (checked): safe to render into SQL text, and the same text FlowETL renders
(`events.calls_20160101`, unquoted).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

# The CDR types FlowETL loads and checks (FlowKit's create_dag allow-list).
QA_CDR_TYPES = ("calls", "sms", "mds", "topups")
_PLAIN_NAME = re.compile(r"^[a-z_]+(\.[a-z_0-9]+)?$|^[a-z_0-9]+$")


def check_cdr_type(cdr_type: str) -> str:
    """`cdr_type` if FlowETL knows it, else ValueError."""
    if cdr_type not in QA_CDR_TYPES:
        raise ValueError(
            f"unknown CDR type {cdr_type!r}: expected one of {', '.join(QA_CDR_TYPES)}"
        )
    return cdr_type


def day_table_name(cdr_type: str, day: dt.date) -> str:
    """`<cdr_type>_<YYYYMMDD>`, the name of a day's partition (in schema events)."""
    return f"{check_cdr_type(cdr_type)}_{day:%Y%m%d}"


def etl_macros(
    cdr_type: str, day: dt.date, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """FlowETL's macros for loading `day` of `cdr_type`: its own (table_name, final_table, ...) and the Airflow
    ones its templates use (ds, ds_nodash, tomorrow_ds, ...). `extra` (FlowKit's `additional_macros`: the
    operator's own, from configuration) is added last and cannot replace a built-in name."""
    if not isinstance(day, dt.date) or isinstance(day, dt.datetime):
        raise TypeError(f"day must be a datetime.date, not {type(day).__name__}")
    table_name = day_table_name(cdr_type, day)
    tomorrow, yesterday = day + dt.timedelta(days=1), day - dt.timedelta(days=1)
    start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    names = {
        "table_name": table_name,
        "etl_schema": "etl",
        "final_schema": "events",
        "parent_table": f"events.{cdr_type}",
        "extract_table_name": f"extract_{table_name}",
        "extract_table": f"etl.extract_{table_name}",
        "staging_table_name": f"stg_{table_name}",
        "staging_table": f"etl.stg_{table_name}",
        "final_table": f"events.{table_name}",
    }
    for value in names.values():  # built from the allow-list and a date: never anything else
        if not _PLAIN_NAME.match(value):
            raise ValueError(f"not a plain table name: {value!r}")
    macros: dict[str, Any] = {
        "cdr_type": cdr_type,
        "params": {"cdr_type": cdr_type},
        **names,
        "ds": day.isoformat(),
        "ds_nodash": f"{day:%Y%m%d}",
        "tomorrow_ds": tomorrow.isoformat(),
        "tomorrow_ds_nodash": f"{tomorrow:%Y%m%d}",
        "yesterday_ds": yesterday.isoformat(),
        "yesterday_ds_nodash": f"{yesterday:%Y%m%d}",
        "ts": start.isoformat(),
        "ts_nodash": f"{start:%Y%m%dT%H%M%S}",
        "logical_date": start,
        "execution_date": start,
        "data_interval_start": start,
        "data_interval_end": start + dt.timedelta(days=1),
    }
    for name, value in (extra or {}).items():
        if name in macros:
            raise ValueError(f"macro {name!r} is built in and cannot be replaced")
        macros[name] = value
    return macros
