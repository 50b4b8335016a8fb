"""Synthetic days written as an operator would deliver them: one gzip-compressed CSV per CDR type and day, with
the operator's own column names and a few bad rows, plus the FlowETL configuration that ingests them.

    with day_file(conn, "calls", day, files) as table:
        ...COPY or INSERT the day's rows into `table`...

`day_file` has `loading.day_partition`'s contract, so either generator can write a day to files instead of
FlowDB: the rows go into a scratch table created in the transaction, and on leaving the block they are written
to `<directory>/<cdr_type>_<YYYYMMDD>.csv.gz` (in time order, timestamps in UTC with a `Z`) and the table is
dropped. The file appears under its name only once complete (written beside it, then renamed), as a file
copied into a landing folder should.

Bad rows, as operators' exports have them: `BAD_ROWS` rows spread through the file have an empty MSISDN or are
late records of the previous day. FlowETL sets them aside (`max_bad_rows` in the written configuration) and
loads the rest, so a FlowETL load of the file ingests `rows - sum(BAD_ROWS.values())` events.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from flowdb.rows import scalar
from flowdb.synthetic.loading import day_table_name

# Per type, the file's fields in order: (operator's header, events column). Events columns the generators leave
# empty (network, operator_code, country_code) are not exported.
_HANDSET = (("CELL_ID", "location_id"), ("IMSI", "imsi"), ("IMEI", "imei"), ("TAC", "tac"))
FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "calls": (
        ("CDR_ID", "id"),
        ("IS_OUTGOING", "outgoing"),
        ("EVENT_TIME", "datetime"),
        ("DURATION_S", "duration"),
        ("MSISDN", "msisdn"),
        ("OTHER_MSISDN", "msisdn_counterpart"),
        *_HANDSET,
    ),
    "sms": (
        ("CDR_ID", "id"),
        ("IS_OUTGOING", "outgoing"),
        ("EVENT_TIME", "datetime"),
        ("MSISDN", "msisdn"),
        ("OTHER_MSISDN", "msisdn_counterpart"),
        *_HANDSET,
    ),
    "mds": (
        ("SESSION_ID", "id"),
        ("EVENT_TIME", "datetime"),
        ("DURATION_S", "duration"),
        ("VOLUME_TOTAL", "volume_total"),
        ("VOLUME_UP", "volume_upload"),
        ("VOLUME_DOWN", "volume_download"),
        ("MSISDN", "msisdn"),
        *_HANDSET,
    ),
    "topups": (
        ("TOPUP_ID", "id"),
        ("EVENT_TIME", "datetime"),
        ("TOPUP_TYPE", "type"),
        ("AMOUNT", "recharge_amount"),
        ("AIRTIME_FEE", "airtime_fee"),
        ("TAX_AND_FEE", "tax_and_fee"),
        ("BALANCE_BEFORE", "pre_event_balance"),
        ("BALANCE_AFTER", "post_event_balance"),
        ("MSISDN", "msisdn"),
        *_HANDSET,
    ),
}
# The PostgreSQL type of each exported events column as a file field (FlowETL's allow-list spelling).
_FIELD_TYPES = {
    "id": "TEXT",
    "outgoing": "BOOLEAN",
    "datetime": "TIMESTAMPTZ",
    "msisdn": "TEXT",
    "msisdn_counterpart": "TEXT",
    "location_id": "TEXT",
    "imsi": "TEXT",
    "imei": "TEXT",
    "tac": "NUMERIC(8)",
    "type": "TEXT",
}
# Bad rows in every file: an empty MSISDN, or a late record dated the day before.
BAD_ROWS = {"null msisdn": 3, "outside the day": 2}
CONFIG_NAME = "flowetl.yml"


@dataclass(frozen=True)
class OperatorFiles:
    """Where operator files go, and which generated days go there instead of into FlowDB."""

    directory: Path
    days: frozenset[dt.date]

    def path(self, cdr_type: str, day: dt.date) -> Path:
        return self.directory / f"{day_table_name(cdr_type, day)}.csv.gz"

    def prepare(self, cdr_types: tuple[str, ...]) -> None:
        """Create the directory, remove operator files an earlier run left in it (a stale day would be ingested
        too), and write the FlowETL configuration for `cdr_types`."""
        self.directory.mkdir(parents=True, exist_ok=True)
        for cdr_type in FIELDS:
            for stale in self.directory.glob(f"{cdr_type}_[0-9]*.csv.gz"):
                stale.unlink()
        (self.directory / CONFIG_NAME).write_text(flowetl_config(cdr_types))


def _bad_positions(rows: int) -> tuple[list[int], list[int]]:
    """1-based row positions, spread evenly through the file, of the NULL-msisdn rows and the late rows."""
    wanted = sum(BAD_ROWS.values())
    if rows < 2 * wanted:
        return [], []
    spread = [rows * (i + 1) // (wanted + 1) for i in range(wanted)]
    nulls = BAD_ROWS["null msisdn"]
    return spread[:nulls], spread[nulls:]


def write_file(conn: psycopg.Connection, table: sql.Composable, cdr_type: str, target: Path) -> int:
    """Write the rows of `table` (one day of `cdr_type`) to `target` as the operator's CSV.gz, bad rows
    included; return the number of rows written."""
    rows = scalar(conn.execute(sql.SQL("SELECT count(*) FROM {}").format(table)))
    nulls, late = _bad_positions(rows)
    selected = []
    for header, column in FIELDS[cdr_type]:
        value: sql.Composable = sql.Identifier(column)
        if column == "msisdn":
            value = sql.SQL("CASE WHEN n = ANY({}) THEN NULL ELSE msisdn END").format(
                sql.Literal(nulls)
            )
        elif column == "datetime":
            value = sql.SQL(
                """to_char((CASE WHEN n = ANY({}) THEN datetime - interval '1 day' ELSE datetime END)
                   AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')"""
            ).format(sql.Literal(late))
        selected.append(sql.SQL("{} AS {}").format(value, sql.Identifier(header)))
    statement = sql.SQL(
        """COPY (SELECT {} FROM (SELECT e.*, row_number() OVER (ORDER BY datetime, id) AS n FROM {} e) r
                 ORDER BY n) TO STDOUT (FORMAT csv, HEADER true)"""
    ).format(sql.SQL(", ").join(selected), table)
    partial = target.with_name(target.name + ".partial")
    try:
        with (
            gzip.open(partial, "wb", compresslevel=6) as out,
            conn.cursor() as cur,
            cur.copy(statement) as copy,
        ):
            for chunk in copy:
                out.write(chunk)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return rows


@contextmanager
def day_file(
    conn: psycopg.Connection, cdr_type: str, day: dt.date, files: OperatorFiles
) -> Iterator[sql.Identifier]:
    """Yield an empty scratch table for one day; on exit write its rows as the day's operator file and drop
    it (day_partition's contract, with a file in place of the partition)."""
    scratch = sql.Identifier("etl", f"operator_{day_table_name(cdr_type, day)}")
    with conn.transaction():
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(scratch))
        conn.execute(
            sql.SQL("CREATE UNLOGGED TABLE {} (LIKE {} INCLUDING DEFAULTS)").format(
                scratch, sql.Identifier("events", cdr_type)
            )
        )
        yield scratch
        write_file(conn, scratch, cdr_type, files.path(cdr_type, day))
        conn.execute(sql.SQL("DROP TABLE {}").format(scratch))


def flowetl_config(cdr_types: tuple[str, ...]) -> str:
    """FlowETL's configuration (YAML) for the operator files of `cdr_types` in the folder it is written to:
    the operator's fields renamed to events columns, the bad rows set aside, and sensors that do not wait."""
    quoted = json.dumps  # a JSON string is a YAML double-quoted scalar
    lines = [
        "# FlowETL configuration for the operator-style files `flowdb synthetic --operator-files` wrote",
        "# beside it (paths are relative to this file's folder). Ingest them with, for instance:",
        "#   flowetl serve --once --config flowetl.yml --start 2016-01-01",
        "# Each file has a few bad rows (empty MSISDN, late records of the day before): set aside, not fatal.",
        "cdr_types:",
    ]
    allowed = max(10, 2 * sum(BAD_ROWS.values()))
    for cdr_type in cdr_types:
        fields = FIELDS[cdr_type]
        types = ", ".join(f"{h}: {_FIELD_TYPES.get(c, 'NUMERIC')}" for h, c in fields)
        columns = ", ".join(f"{c}: {h}" for h, c in fields)
        lines += [
            f"  {cdr_type}:",
            "    source:",
            "      file:",
            f"        path: {quoted(cdr_type + '_{{ ds_nodash }}.csv.gz')}",
            f"        fields: {{{types}}}",
            f"    columns: {{{columns}}}",
            f"    max_bad_rows: {allowed}",
            "    data_present: {poke_interval: 1, timeout: 0}",
            "    flux_check: {wait_interval: 1, poke_interval: 1, timeout: 60}",
        ]
    return "\n".join(lines) + "\n"
