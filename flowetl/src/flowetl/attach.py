"""Steps after extract, in FlowKit's order: add_constraints (bad rows quarantined; NOT NULL msisdn and
datetime), cluster (optional), add_indexes, analyze, attach (the extract table replaces the day's partition of
`events.<cdr_type>` and the day is recorded, in one transaction).

The day-range CHECK added by add_constraints proves the partition bound, so SET NOT NULL and ATTACH PARTITION
need no scan of their own.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass

import psycopg
from psycopg import sql

from flowdb.synthetic.loading import CDR_TYPES as LOADER_TYPES
from flowdb.synthetic.loading import PARTITION_STATISTICS_TARGET, REPLACE_LOCK, record_ingested
from flowetl import errors, quarantine, tables
from flowetl.config import SourceConfig
from flowetl.errors import LoadFailed, MalformedInput


@dataclass(frozen=True)
class ConstraintResult:
    set_aside: dict[str, int]  # bad rows removed from the day, per reason (empty: none)


def add_constraints(
    conn: psycopg.Connection, config: SourceConfig, day: dt.date
) -> ConstraintResult:
    """Check every row has an msisdn and a datetime within the day (one scan, through a CHECK constraint); then
    NOT NULL. Bad rows are quarantined; with more than `max_bad_rows` of them the day fails (MalformedInput,
    quarantine rows kept), otherwise they are deleted and the rest goes on."""
    cdr_type = config.cdr_type
    extract = tables.extract(cdr_type, day)
    start, end = tables.bounds(day)
    check = sql.SQL(
        "ALTER TABLE {} ADD CONSTRAINT {} CHECK (msisdn IS NOT NULL AND datetime IS NOT NULL "
        "AND datetime >= {} AND datetime < {})"
    ).format(extract, tables.day_check_name(cdr_type, day), sql.Literal(start), sql.Literal(end))
    failure = None
    counts: dict[str, int] = {}
    with conn.transaction():
        try:
            with conn.transaction():
                conn.execute(check)
        except psycopg.errors.CheckViolation:
            counts = quarantine.record_bad_rows(conn, cdr_type, day)
            total = sum(counts.values())
            summary = ", ".join(f"{n} {reason}" for reason, n in sorted(counts.items()))
            if total > config.max_bad_rows:
                failure = MalformedInput(
                    errors.TOO_MANY_BAD_ROWS,
                    f"{total} bad rows ({summary}); at most {config.max_bad_rows} may be set aside "
                    "(max_bad_rows); see etl.quarantine",
                    step="add_constraints",
                )
                quarantine.record(conn, cdr_type, day, failure)
            else:
                conn.execute(
                    sql.SQL("DELETE FROM {} WHERE {}").format(
                        extract, quarantine.bad_row_condition(day)
                    )
                )
                conn.execute(check)
        if failure is None:
            conn.execute(
                sql.SQL(
                    "ALTER TABLE {} ALTER COLUMN msisdn SET NOT NULL, ALTER COLUMN datetime SET NOT NULL"
                ).format(extract)
            )
    if failure is not None:
        failure.recorded = True
        raise failure
    return ConstraintResult(set_aside=counts)


def cluster(conn: psycopg.Connection, config: SourceConfig, day: dt.date) -> None:
    """CLUSTER the extract table on `cluster_field` (FlowKit's optional step), through its index."""
    if config.cluster_field is None:
        return
    extract = tables.extract(config.cdr_type, day)
    index = tables.index_name(config.cdr_type, day, config.cluster_field)
    with conn.transaction():
        conn.execute(
            sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} ({})").format(
                index, extract, sql.Identifier(config.cluster_field)
            )
        )
        conn.execute(sql.SQL("CLUSTER {} USING {}").format(extract, index))


def add_indexes(conn: psycopg.Connection, config: SourceConfig, day: dt.date) -> None:
    """FlowKit's `<table_name>_<column>_idx` on each configured column."""
    extract = tables.extract(config.cdr_type, day)
    with conn.transaction():
        for column in config.indexes:
            index = tables.index_name(config.cdr_type, day, column)
            if column == config.cluster_field:
                continue  # made by cluster()
            conn.execute(
                sql.SQL("CREATE INDEX {} ON {} ({})").format(index, extract, sql.Identifier(column))
            )


def analyze(conn: psycopg.Connection, config: SourceConfig, day: dt.date) -> None:
    """ANALYZE the extract table at the statistics target FlowDB's own loaders use for a day partition
    (flowdb's PARTITION_STATISTICS_TARGET, 100): FlowDB's default (STATS_TARGET, 1000) samples 300,000 rows
    and took 2.3 s of a 3 M-row day's 19 s load; a day's estimates are as good at 100 (docs/flowdb.md)."""
    with conn.transaction():
        conn.execute(
            sql.SQL("SET LOCAL default_statistics_target = {}").format(
                sql.Literal(PARTITION_STATISTICS_TARGET)
            )
        )
        conn.execute(sql.SQL("ANALYZE {}").format(tables.extract(config.cdr_type, day)))


# Replacing a day drops its old partition, which needs `events.<cdr_type>` exclusively: while it waits for
# analysts' queries to finish, every new query of the type would queue behind it. So it waits at most
# ATTACH_LOCK_TIMEOUT, gives way for ATTACH_RETRY_PAUSE seconds, and tries again until ATTACH_RETRY_SECONDS.
ATTACH_LOCK_TIMEOUT = "3s"
ATTACH_RETRY_PAUSE = 5.0
ATTACH_RETRY_SECONDS = 1800.0


class ParentBusy(LoadFailed):
    step = "attach"
    reason = "events table busy"


def attach(
    conn: psycopg.Connection,
    config: SourceConfig,
    day: dt.date,
    *,
    location_ids: Callable[[], Collection[str]] | None = None,
    retry_seconds: float = ATTACH_RETRY_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Replace the day's partition with the extract table and record the day, atomically: drop the old
    partition, rename and move the extract table into `events`, ATTACH it FOR VALUES FROM (ds) TO
    (tomorrow_ds), then `etl.etl_records` ('ingested'), `available_tables` and `events.location_ids`
    (flowdb's record_ingested). Any failure leaves the old partition attached. A lock not granted within
    ATTACH_LOCK_TIMEOUT is asked for again after a pause, for `retry_seconds` (then ParentBusy)."""
    cdr_type = config.cdr_type
    name = tables.name(cdr_type, day)
    final = tables.final(cdr_type, day)
    start, end = tables.bounds(day)
    deadline = clock() + retry_seconds
    while True:
        try:
            with conn.transaction():
                # Replacing a day needs the parent exclusively: take turns with other loaders of this type.
                conn.execute(
                    "SELECT pg_advisory_xact_lock(%s, %s)",
                    (REPLACE_LOCK, LOADER_TYPES.index(cdr_type)),
                )
                conn.execute(
                    sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(ATTACH_LOCK_TIMEOUT))
                )
                conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(final))
                conn.execute(
                    sql.SQL("ALTER TABLE {} RENAME TO {}").format(
                        tables.extract(cdr_type, day), sql.Identifier(name)
                    )
                )
                conn.execute(
                    sql.SQL("ALTER TABLE {} SET SCHEMA events").format(sql.Identifier("etl", name))
                )
                conn.execute(
                    sql.SQL(
                        "ALTER TABLE {} ATTACH PARTITION {} FOR VALUES FROM ({}) TO ({})"
                    ).format(tables.parent(cdr_type), final, sql.Literal(start), sql.Literal(end))
                )
                record_ingested(
                    conn, cdr_type, day, final, None if location_ids is None else location_ids()
                )
            break
        except psycopg.errors.LockNotAvailable:
            if clock() >= deadline:
                raise ParentBusy(
                    f"{tables.parent(cdr_type).as_string(conn)} stayed in use by other sessions for "
                    f"{retry_seconds:.0f} s; the day's previous partition is still served"
                ) from None
            sleep(ATTACH_RETRY_PAUSE)
    if conn.autocommit:
        conn.execute(sql.SQL("VACUUM {}").format(final))  # visibility map: index-only scans
