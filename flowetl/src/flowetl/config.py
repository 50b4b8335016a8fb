"""The FlowETL configuration file (YAML): one source per CDR type, validated with one message per mistake.

    cdr_types:
      calls:
        source:
          file: {path: /landing/calls_{{ ds_nodash }}.csv.gz, format: csv.gz, fields: {...}}
        columns: {msisdn: msisdn, datetime: event_time, location_id: cell_id}

Every message names the path of the bad key (`cdr_types.calls.source.file.delimiter: ...`). The reference is
docs/flowetl.md. Templates are checked by rendering them for a sample day, so an unknown macro is a config
error, not a failed load.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from flowdb.events_columns import CDR_TYPES, EVENTS_COLUMNS
from flowetl.errors import ConfigError
from flowetl.macros import macros, render

DEFAULT_INDEXES = ("msisdn_counterpart", "location_id", "datetime", "tac")
FORMATS = ("csv", "csv.gz", "parquet")
WEEK = 7 * 24 * 3600.0

# PostgreSQL types a field may have, by the spellings accepted (canonical form on the right).
_TYPES = {
    "text": "TEXT",
    "varchar": "VARCHAR",
    "character varying": "VARCHAR",
    "boolean": "BOOLEAN",
    "bool": "BOOLEAN",
    "smallint": "SMALLINT",
    "integer": "INTEGER",
    "int": "INTEGER",
    "bigint": "BIGINT",
    "numeric": "NUMERIC",
    "decimal": "NUMERIC",
    "real": "REAL",
    "double precision": "DOUBLE PRECISION",
    "float8": "DOUBLE PRECISION",
    "date": "DATE",
    "time": "TIME",
    "timestamp": "TIMESTAMP",
    "timestamp without time zone": "TIMESTAMP",
    "timestamptz": "TIMESTAMPTZ",
    "timestamp with time zone": "TIMESTAMPTZ",
}
_SIZED_TYPE = re.compile(
    r"^(numeric|decimal|varchar|character varying)\s*\(\s*(\d{1,4})\s*(?:,\s*(\d{1,4})\s*)?\)$"
)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_QUALIFIED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$")
# PostgreSQL's client encodings (COPY ... ENCODING).
ENCODINGS = (
    "UTF8", "LATIN1", "LATIN2", "LATIN9", "WIN1250", "WIN1251", "WIN1252", "WIN1256", "ISO_8859_5",
    "ISO_8859_6", "ISO_8859_7", "ISO_8859_8", "KOI8R", "KOI8U", "SQL_ASCII", "EUC_JP", "EUC_KR", "SJIS",
    "GBK", "GB18030", "BIG5", "UHC",
)  # fmt: skip


def canonical_type(raw: str) -> str | None:
    """The allow-listed PostgreSQL type `raw` names (e.g. `timestamp with time zone` -> TIMESTAMPTZ), or None."""
    text = " ".join(str(raw).lower().split())
    if text in _TYPES:
        return _TYPES[text]
    match = _SIZED_TYPE.match(text)
    if match:
        base = _TYPES[match[1]]
        if base == "VARCHAR" and match[3] is not None:
            return None
        return f"{base}({match[2]}{',' + match[3] if match[3] else ''})"
    return None


@dataclass(frozen=True)
class FileSource:
    path: str  # a template (macros.py)
    format: str
    fields: tuple[tuple[str, str], ...]  # (name, canonical type) in file order
    null: str = ""
    header: bool = True
    delimiter: str = ","
    quote: str = '"'
    escape: str = '"'
    encoding: str | None = None
    # The folder a relative path is read from: the configuration file's
    base: Path = Path(".")

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.fields)


@dataclass(frozen=True)
class TableSource:
    source_table: str  # schema.name of a local table or view, or of a foreign (postgres_fdw) table
    staging_view_sql: str  # a template selecting one day from {{ source_table }}


@dataclass(frozen=True)
class Polling:
    poke_interval: float = 60.0
    timeout: float = WEEK
    wait_interval: float = 60.0  # flux check only
    enabled: bool = True  # flux check only


@dataclass(frozen=True)
class SourceConfig:
    """Everything needed to load one CDR type (FlowKit's create_dag arguments)."""

    cdr_type: str
    source: FileSource | TableSource
    extract_sql: str | None = None
    columns: tuple[tuple[str, str], ...] | None = None  # (events column, source field)
    indexes: tuple[str, ...] = ()
    cluster_field: str | None = None
    data_present: Polling = field(default_factory=Polling)
    flux_check: Polling = field(default_factory=Polling)
    max_bad_rows: int = 0
    additional_macros: tuple[tuple[str, str], ...] = ()
    # FlowKit's additional_qa_check_paths: folders holding qa_checks/*.sql and qa_checks/<cdr_type>/*.sql
    qa_check_paths: tuple[Path, ...] = ()

    @property
    def mode(self) -> str:
        return "file" if isinstance(self.source, FileSource) else "table"

    def macros(self, day: dt.date) -> dict[str, Any]:
        source_table = self.source.source_table if isinstance(self.source, TableSource) else None
        return macros(
            self.cdr_type, day, source_table=source_table, additional=dict(self.additional_macros)
        )

    @property
    def direct_copy(self) -> bool:
        """True when file rows can be COPYed straight into the typed extract table (no extract SQL, and the
        fields are events columns under their own names)."""
        if not isinstance(self.source, FileSource) or self.extract_sql is not None:
            return False
        if self.columns is None:
            return True
        return all(col == src for col, src in self.columns) and [
            c for c, _ in self.columns
        ] == list(self.source.field_names)


@dataclass(frozen=True)
class Config:
    cdr_types: dict[str, SourceConfig]

    def source(self, cdr_type: str) -> SourceConfig:
        try:
            return self.cdr_types[cdr_type]
        except KeyError:
            known = ", ".join(self.cdr_types) or "none"
            raise ConfigError(
                f"cdr_types.{cdr_type}: not configured (configured: {known})"
            ) from None


class _Checker:
    """Collects one message per mistake, each prefixed with the path of the key."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def error(self, path: str, message: str) -> None:
        self.errors.append(f"{path}: {message}")

    def mapping(self, value: Any, path: str, allowed: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            self.error(path, f"must be a mapping, got {type(value).__name__}")
            return {}
        for key in value:
            if key not in allowed:
                self.error(f"{path}.{key}", f"unknown key (expected one of: {', '.join(allowed)})")
        return dict(value)

    def string(
        self, value: Any, path: str, *, default: str | None = None, chars: int | None = None
    ) -> str | None:
        if value is None:
            return default
        if not isinstance(value, str):
            self.error(path, f"must be a string, got {type(value).__name__}")
            return default
        if chars is not None and len(value.encode()) != chars:
            self.error(path, f"must be a single one-byte character, got {value!r}")
            return default
        return value

    def boolean(self, value: Any, path: str, default: bool) -> bool:
        if value is None:
            return default
        if not isinstance(value, bool):
            self.error(path, f"must be true or false, got {value!r}")
            return default
        return value

    def seconds(self, value: Any, path: str, default: float) -> float:
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            self.error(path, f"must be a number of seconds (0 or more), got {value!r}")
            return default
        return float(value)

    def template(self, text: str, path: str, values: dict[str, Any]) -> None:
        try:
            render(text, values, where=path)
        except ConfigError as exc:
            self.errors.append(str(exc))


def _polling(c: _Checker, raw: Any, path: str, *, flux: bool) -> Polling:
    keys = ("poke_interval", "timeout") + (("wait_interval", "enabled") if flux else ())
    value = c.mapping(raw if raw is not None else {}, path, keys)
    return Polling(
        poke_interval=c.seconds(value.get("poke_interval"), f"{path}.poke_interval", 60.0),
        timeout=c.seconds(value.get("timeout"), f"{path}.timeout", WEEK),
        wait_interval=c.seconds(value.get("wait_interval"), f"{path}.wait_interval", 60.0),
        enabled=c.boolean(value.get("enabled"), f"{path}.enabled", True),
    )


def _sql_text(c: _Checker, raw: Any, path: str, base: Path) -> str | None:
    """SQL given inline, or as the name of a .sql file beside the config (FlowKit accepts both)."""
    text = c.string(raw, path)
    if text is None:
        return None
    stripped = text.strip()
    if stripped.endswith(".sql") and not any(ch.isspace() for ch in stripped):
        try:
            return (base / stripped).read_text()
        except OSError as exc:
            c.error(path, f"cannot read {stripped}: {exc.strerror}")
            return None
    if not stripped:
        c.error(path, "must not be empty")
        return None
    return text


def _file_source(c: _Checker, raw: Any, path: str, base: Path) -> FileSource | None:
    value = c.mapping(
        raw,
        path,
        ("path", "format", "fields", "null", "header", "delimiter", "quote", "escape", "encoding"),
    )
    template = c.string(value.get("path"), f"{path}.path")
    if not template:
        c.error(
            f"{path}.path",
            "is required (a path template such as /landing/calls_{{ ds_nodash }}.csv.gz)",
        )
        template = ""
    fmt = c.string(value.get("format"), f"{path}.format")
    if fmt is None:
        fmt = next((f for f in ("csv.gz", "parquet", "csv") if template.endswith("." + f)), None)
        if fmt is None:
            c.error(
                f"{path}.format",
                f"is required when the path does not end in one of: {', '.join(FORMATS)}",
            )
    elif fmt not in FORMATS:
        c.error(f"{path}.format", f"must be one of {', '.join(FORMATS)}, got {fmt!r}")
    fields: list[tuple[str, str]] = []
    raw_fields = value.get("fields")
    if not isinstance(raw_fields, Mapping) or not raw_fields:
        c.error(
            f"{path}.fields",
            "is required: a mapping of field name to PostgreSQL type, in file order",
        )
    else:
        for name, typ in raw_fields.items():
            where = f"{path}.fields.{name}"
            if not isinstance(name, str) or not _NAME.match(name):
                c.error(
                    where,
                    "field names must be letters, digits and underscores, not starting with a digit",
                )
                continue
            canonical = canonical_type(typ) if isinstance(typ, str) else None
            if canonical is None:
                c.error(
                    where,
                    f"unsupported type {typ!r} (one of: {', '.join(sorted(set(_TYPES.values())))}, "
                    "NUMERIC(p[,s]), VARCHAR(n))",
                )
                continue
            fields.append((name, canonical))
    encoding = c.string(value.get("encoding"), f"{path}.encoding")
    if encoding is not None:
        normal = encoding.upper().replace("-", "")
        normal = {"UTF8": "UTF8", "ISO88591": "LATIN1"}.get(normal, normal)
        if normal not in ENCODINGS:
            c.error(
                f"{path}.encoding",
                f"unknown encoding {encoding!r} (one of: {', '.join(ENCODINGS)})",
            )
        encoding = normal
    source = FileSource(
        path=template,
        format=fmt or "csv",
        fields=tuple(fields),
        null=c.string(value.get("null"), f"{path}.null", default="") or "",
        header=c.boolean(value.get("header"), f"{path}.header", True),
        delimiter=c.string(value.get("delimiter"), f"{path}.delimiter", default=",", chars=1)
        or ",",
        quote=c.string(value.get("quote"), f"{path}.quote", default='"', chars=1) or '"',
        escape=c.string(value.get("escape"), f"{path}.escape", default='"', chars=1) or '"',
        encoding=encoding,
        base=base,
    )
    if source.format == "parquet" and (
        value.get("null") is not None or value.get("delimiter") is not None
    ):
        c.error(path, "null, delimiter, quote and escape apply to CSV files, not Parquet")
    return source


def _table_source(c: _Checker, raw: Any, path: str, base: Path) -> TableSource:
    value = c.mapping(raw, path, ("source_table", "staging_view_sql"))
    table = c.string(value.get("source_table"), f"{path}.source_table")
    if not table or not _QUALIFIED.match(table):
        c.error(
            f"{path}.source_table",
            "is required: a table, view or foreign table as name or schema.name",
        )
        table = ""
    view_sql = _sql_text(c, value.get("staging_view_sql"), f"{path}.staging_view_sql", base)
    if view_sql is None:
        c.error(
            f"{path}.staging_view_sql", "is required: a SELECT of one day from {{ source_table }}"
        )
    return TableSource(source_table=table, staging_view_sql=view_sql or "")


def _source_config(c: _Checker, cdr_type: str, raw: Any, base: Path) -> SourceConfig | None:
    path = f"cdr_types.{cdr_type}"
    value = c.mapping(
        raw,
        path,
        ("source", "extract_sql", "columns", "indexes", "cluster_field", "data_present", "flux_check",
         "max_bad_rows", "additional_macros", "qa_check_paths"),
    )  # fmt: skip
    columns_of_type = EVENTS_COLUMNS[cdr_type]
    source_raw = c.mapping(value.get("source", {}), f"{path}.source", ("file", "table"))
    if len(source_raw) != 1:
        c.error(f"{path}.source", "give exactly one of `file` or `table`")
        return None
    source: FileSource | TableSource | None
    if "file" in source_raw:
        source = _file_source(c, source_raw["file"], f"{path}.source.file", base)
    else:
        source = _table_source(c, source_raw["table"], f"{path}.source.table", base)
    extract_sql = _sql_text(c, value.get("extract_sql"), f"{path}.extract_sql", base)
    columns: tuple[tuple[str, str], ...] | None = None
    if value.get("columns") is not None:
        if extract_sql is not None:
            c.error(f"{path}.columns", "give either extract_sql or columns, not both")
        raw_columns = c.mapping(value["columns"], f"{path}.columns", columns_of_type)
        mapped: list[tuple[str, str]] = []
        for column, src in raw_columns.items():
            if column not in columns_of_type:
                continue
            if not isinstance(src, str) or not _NAME.match(src):
                c.error(f"{path}.columns.{column}", f"must name a source field, got {src!r}")
            elif isinstance(source, FileSource) and src not in source.field_names:
                c.error(
                    f"{path}.columns.{column}",
                    f"{src!r} is not one of the fields {list(source.field_names)}",
                )
            else:
                mapped.append((column, src))
        for required in ("msisdn", "datetime"):
            if required not in raw_columns:
                c.error(f"{path}.columns", f"must map the events column {required!r}")
        columns = tuple(mapped)
    elif extract_sql is None and isinstance(source, FileSource):
        unknown = [f for f in source.field_names if f not in columns_of_type]
        if unknown:
            c.error(
                f"{path}.source.file.fields",
                f"{unknown} are not columns of events.{cdr_type}: give `columns` (events column: field) "
                "or `extract_sql`",
            )
        for required in ("msisdn", "datetime"):
            if source.field_names and required not in source.field_names:
                c.error(
                    f"{path}.source.file.fields",
                    f"must include {required!r} (or give columns or extract_sql)",
                )
    raw_indexes = value.get("indexes")
    if raw_indexes is None:
        indexes = tuple(i for i in DEFAULT_INDEXES if i in columns_of_type)
    elif not isinstance(raw_indexes, list):
        c.error(f"{path}.indexes", "must be a list of events columns")
        indexes = ()
    else:
        indexes = tuple(raw_indexes)
        for i, column in enumerate(raw_indexes):
            if column not in columns_of_type:
                c.error(f"{path}.indexes[{i}]", f"{column!r} is not a column of events.{cdr_type}")
    cluster_field = c.string(value.get("cluster_field"), f"{path}.cluster_field")
    if cluster_field is not None and cluster_field not in columns_of_type:
        c.error(f"{path}.cluster_field", f"{cluster_field!r} is not a column of events.{cdr_type}")
    max_bad = value.get("max_bad_rows", 0)
    if isinstance(max_bad, bool) or not isinstance(max_bad, int) or max_bad < 0:
        c.error(f"{path}.max_bad_rows", f"must be a whole number (0 or more), got {max_bad!r}")
        max_bad = 0
    extra = c.mapping(value.get("additional_macros") or {}, f"{path}.additional_macros", ())
    # (every key is "unknown" to mapping(); undo that: additional macros are free-form)
    c.errors = [e for e in c.errors if not e.startswith(f"{path}.additional_macros.")]
    additional = []
    for key, val in extra.items():
        if (
            not isinstance(key, str)
            or not _NAME.match(key)
            or not isinstance(val, str | int | float)
        ):
            c.error(f"{path}.additional_macros.{key}", "must be a name with a string value")
        else:
            additional.append((key, str(val)))
    qa_paths = []
    raw_paths = value.get("qa_check_paths", [])
    if not isinstance(raw_paths, list) or not all(isinstance(p, str) for p in raw_paths):
        c.error(f"{path}.qa_check_paths", "must be a list of folders")
    else:
        for i, folder in enumerate(raw_paths):
            resolved = (base / folder).resolve()
            if not resolved.is_dir():
                c.error(f"{path}.qa_check_paths[{i}]", f"no such folder: {resolved}")
            qa_paths.append(resolved)
    if source is None:
        return None
    config = SourceConfig(
        cdr_type=cdr_type,
        source=source,
        extract_sql=extract_sql,
        columns=columns,
        indexes=indexes,
        cluster_field=cluster_field,
        data_present=_polling(c, value.get("data_present"), f"{path}.data_present", flux=False),
        flux_check=_polling(c, value.get("flux_check"), f"{path}.flux_check", flux=True),
        max_bad_rows=max_bad,
        additional_macros=tuple(additional),
        qa_check_paths=tuple(qa_paths),
    )
    sample = config.macros(dt.date(2016, 1, 1))
    if isinstance(source, FileSource):
        c.template(source.path, f"{path}.source.file.path", sample)
    else:
        c.template(source.staging_view_sql, f"{path}.source.table.staging_view_sql", sample)
    if extract_sql is not None:
        c.template(extract_sql, f"{path}.extract_sql", sample)
    return config


def parse_config(data: Any, *, base: Path = Path(".")) -> Config:
    """A validated Config from parsed YAML; raises ConfigError listing every mistake."""
    c = _Checker()
    top = c.mapping(data if data is not None else {}, "(top level)", ("cdr_types",))
    types = c.mapping(top.get("cdr_types", {}), "cdr_types", CDR_TYPES)
    if not types and not c.errors:
        c.error("cdr_types", f"configure at least one of: {', '.join(CDR_TYPES)}")
    configs = {}
    for cdr_type, raw in types.items():
        if cdr_type in CDR_TYPES:
            config = _source_config(c, cdr_type, raw, base)
            if config is not None:
                configs[cdr_type] = config
    if c.errors:
        raise ConfigError("invalid FlowETL configuration:\n  " + "\n  ".join(c.errors))
    return Config(cdr_types=configs)


def load_config(path: Path | str) -> Config:
    """Read and validate a YAML config file (SQL files and file paths in it are relative to its folder)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    return parse_config(data, base=path.parent.resolve())
