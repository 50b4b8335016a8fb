"""FlowKit's FlowETL macros for one (cdr_type, day), and sandboxed Jinja rendering of config templates.

The values are FlowKit's (reference/flowdb.md §6.2): `ds`, `ds_nodash`, `tomorrow_ds`, `tomorrow_ds_nodash`,
`yesterday_ds`, `yesterday_ds_nodash`, `cdr_type` (also `params.cdr_type`), `table_name`, `etl_schema`,
`final_schema`, `parent_table`, `extract_table_name`, `extract_table`, `staging_table_name`, `staging_table`,
`final_table`, `source_table` (table mode), plus the config's `additional_macros`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from flowetl.errors import ConfigError

ETL_SCHEMA = "etl"
FINAL_SCHEMA = "events"

_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)


def table_name(cdr_type: str, day: dt.date) -> str:
    return f"{cdr_type}_{day:%Y%m%d}"


def macros(
    cdr_type: str,
    day: dt.date,
    *,
    source_table: str | None = None,
    additional: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Every macro FlowETL SQL and path templates may use, for `day` (FlowKit's `ds`)."""
    name = table_name(cdr_type, day)
    tomorrow = day + dt.timedelta(days=1)
    yesterday = day - dt.timedelta(days=1)
    values: dict[str, Any] = {
        **(additional or {}),
        "ds": day.isoformat(),
        "ds_nodash": f"{day:%Y%m%d}",
        "tomorrow_ds": tomorrow.isoformat(),
        "tomorrow_ds_nodash": f"{tomorrow:%Y%m%d}",
        "yesterday_ds": yesterday.isoformat(),
        "yesterday_ds_nodash": f"{yesterday:%Y%m%d}",
        "cdr_type": cdr_type,
        "params": {"cdr_type": cdr_type},
        "table_name": name,
        "etl_schema": ETL_SCHEMA,
        "final_schema": FINAL_SCHEMA,
        "parent_table": f"{FINAL_SCHEMA}.{cdr_type}",
        "extract_table_name": f"extract_{name}",
        "extract_table": f"{ETL_SCHEMA}.extract_{name}",
        "staging_table_name": f"stg_{name}",
        "staging_table": f"{ETL_SCHEMA}.stg_{name}",
        "final_table": f"{FINAL_SCHEMA}.{name}",
    }
    if source_table is not None:
        values["source_table"] = source_table
    return values


@lru_cache(maxsize=256)
def _compiled(template: str) -> Template:
    """A config template compiled once (compiling costs ~1 ms; `flowetl serve` renders a path per day looked at)."""
    return _ENV.from_string(template)


def render(template: str, values: Mapping[str, Any], *, where: str = "template") -> str:
    """Render `template` in Jinja's sandbox; an unknown macro or a syntax error is a ConfigError naming `where`."""
    try:
        return _compiled(template).render(**values)
    except TemplateError as exc:
        raise ConfigError(f"{where}: cannot render template: {exc}") from None
