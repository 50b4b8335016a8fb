"""Step `extract`: the day's rows into `etl.extract_<table_name>`, typed as `events.<cdr_type>`, in one
transaction that also creates the table (so COPY writes it FREEZE and, with wal_level minimal, without WAL).

File mode, no extract SQL and fields named as events columns: the file is COPYed straight into the extract
table. Otherwise it is COPYed into an UNLOGGED staging table `etl.stg_<table_name>` with the configured field
types, and the extract SQL (FlowKit's: a SELECT of the events columns in schema order from
`{{ staging_table }}`) or the column mapping fills the extract table. Table mode makes `etl.stg_<table_name>` a
view of the staging SQL instead. The staging relation is dropped in the same transaction, so a failure or a
killed process leaves nothing behind but, at worst, a committed extract table that the next run drops
(flowetl.records.cleanup).

The extract table has no NOT NULL constraints yet: rows with a NULL msisdn or datetime, or dated outside the day,
are found by the next step (flowetl.attach.add_constraints), which may set them aside.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import psycopg
from psycopg import sql

from flowetl import errors, tables
from flowetl.config import FileSource, SourceConfig, TableSource
from flowetl.errors import MalformedInput
from flowetl.macros import render
from flowetl.sources import copy_chunks, file_path, staging_query

_LINE = re.compile(r"\bline (\d+)\b")


@dataclass(frozen=True)
class ExtractResult:
    rows: int
    direct_copy: bool


def extract(conn: psycopg.Connection, config: SourceConfig, day: dt.date) -> ExtractResult:
    """Create and fill `etl.extract_<table_name>` (committed on return); raise MalformedInput on bad input."""
    cdr_type = config.cdr_type
    target = tables.extract(cdr_type, day)
    staging = tables.staging(cdr_type, day)
    try:
        with conn.transaction():
            conn.execute(
                sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS)").format(
                    target, tables.parent(cdr_type)
                )
            )
            # NOT NULL comes back in add_constraints, once bad rows are dealt with.
            conn.execute(
                sql.SQL(
                    "ALTER TABLE {} ALTER COLUMN msisdn DROP NOT NULL, ALTER COLUMN datetime DROP NOT NULL"
                ).format(target)
            )
            if isinstance(config.source, FileSource):
                if config.direct_copy:
                    rows = _copy_file(conn, config, day, target, config.source.field_names)
                else:
                    conn.execute(
                        sql.SQL("CREATE UNLOGGED TABLE {} ({})").format(
                            staging,
                            sql.SQL(", ").join(
                                sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t))
                                for n, t in config.source.fields
                            ),
                        )
                    )
                    _copy_file(conn, config, day, staging, config.source.field_names)
                    rows = _fill_from_staging(conn, config, day, target, staging)
                    conn.execute(sql.SQL("DROP TABLE {}").format(staging))
            else:
                conn.execute(
                    sql.SQL("CREATE VIEW {} AS {}").format(staging, staging_query(config, day))
                )
                rows = _fill_from_staging(conn, config, day, target, staging)
                conn.execute(sql.SQL("DROP VIEW {}").format(staging))
            if rows == 0:
                raise MalformedInput(errors.EMPTY, f"{_describe(config, day)} has no rows")
    except psycopg.errors.DataError as exc:
        raise _malformed(exc, config) from None
    except psycopg.errors.UndefinedColumn as exc:
        raise MalformedInput(errors.WRONG_COLUMNS, _message(exc)) from None
    return ExtractResult(rows=rows, direct_copy=config.direct_copy)


def _copy_file(
    conn: psycopg.Connection,
    config: SourceConfig,
    day: dt.date,
    table: sql.Identifier,
    columns: tuple[str, ...],
) -> int:
    source = config.source
    assert isinstance(source, FileSource)
    path = file_path(config, day)
    csv_file = source.format != "parquet"
    options: list[sql.Composable] = [sql.SQL("FORMAT csv"), sql.SQL("FREEZE true")]
    if csv_file:
        options += [
            sql.SQL("HEADER {}").format(sql.SQL("match" if source.header else "false")),
            sql.SQL("DELIMITER {}").format(sql.Literal(source.delimiter)),
            sql.SQL("QUOTE {}").format(sql.Literal(source.quote)),
            sql.SQL("ESCAPE {}").format(sql.Literal(source.escape)),
            sql.SQL("NULL {}").format(sql.Literal(source.null)),
        ]
        if source.encoding:
            options.append(sql.SQL("ENCODING {}").format(sql.Literal(source.encoding)))
    statement = sql.SQL("COPY {} ({}) FROM STDIN ({})").format(
        table, sql.SQL(", ").join(map(sql.Identifier, columns)), sql.SQL(", ").join(options)
    )
    with conn.cursor() as cur:
        with cur.copy(statement) as copy:
            for chunk in copy_chunks(source, path):
                copy.write(chunk)
        return cur.rowcount


def _fill_from_staging(
    conn: psycopg.Connection,
    config: SourceConfig,
    day: dt.date,
    target: sql.Identifier,
    staging: sql.Identifier,
) -> int:
    """INSERT the staging rows into the extract table: through the extract SQL, the column mapping, or (table
    mode without either) the staging columns named as events columns."""
    if config.extract_sql is not None:
        text = render(
            config.extract_sql, config.macros(day), where=f"cdr_types.{config.cdr_type}.extract_sql"
        )
        # Trusted operator SQL (docs/flowetl.md): its columns are the events columns in schema order.
        select = sql.SQL(text.strip().rstrip(";"))
        statement = sql.SQL("INSERT INTO {} SELECT * FROM ({}) s").format(target, select)
    else:
        if config.columns is not None:
            pairs = list(config.columns)
        else:
            present = _columns(conn, staging)
            wanted = _columns(conn, target)
            pairs = [(c, c) for c in wanted if c in present]
            missing = [c for c in ("msisdn", "datetime") if c not in present]
            if missing:
                raise MalformedInput(
                    errors.WRONG_COLUMNS,
                    f"the staging query has no column {missing} (it has {present}); "
                    "name the columns as events columns or configure columns or extract_sql",
                )
        statement = sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(
            target,
            sql.SQL(", ").join(sql.Identifier(c) for c, _ in pairs),
            sql.SQL(", ").join(sql.Identifier(s) for _, s in pairs),
            staging,
        )
    return conn.execute(statement).rowcount


def _columns(conn: psycopg.Connection, relation: sql.Identifier) -> list[str]:
    rows = conn.execute(
        """SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0
           AND NOT attisdropped ORDER BY attnum""",
        (relation.as_string(conn),),
    ).fetchall()
    return [r[0] for r in rows]


def _describe(config: SourceConfig, day: dt.date) -> str:
    if isinstance(config.source, TableSource):
        return f"the staging query of {config.source.source_table}"
    return str(file_path(config, day))


def _message(exc: psycopg.Error) -> str:
    diag = exc.diag
    text = diag.message_primary or str(exc)
    if diag.context:
        text += f" ({diag.context.strip().splitlines()[0]})"
    return text


def _malformed(exc: psycopg.Error, config: SourceConfig) -> MalformedInput:
    """A COPY or cast error as a quarantine reason, with the data row it happened on."""
    message = exc.diag.message_primary or str(exc)
    context = exc.diag.context or ""
    row = None
    copy_line = context.startswith("COPY ")
    match = _LINE.search(context) if copy_line else None
    if match:
        row = int(match[1])
        source = config.source
        if isinstance(source, FileSource) and source.format != "parquet" and source.header:
            row -= 1
    if isinstance(exc, psycopg.errors.BadCopyFileFormat) and re.search(
        r"missing data|extra data|header line", message
    ):
        reason = errors.WRONG_COLUMNS
    else:
        reason = errors.UNPARSABLE
    raw = context.split(": ", 1)[1] if copy_line and ": " in context else None
    return MalformedInput(reason, _message(exc), row_number=row, raw=raw)
