"""Loading one day of one CDR type the way FlowETL does, in a single transaction.

    with day_partition(conn, "calls", day) as table:
        ...COPY or INSERT into `table`...

The staging table is created inside the transaction, so with `wal_level = minimal` neither the load nor its
indexes write WAL, and a loader may write it frozen (`COPY ... FREEZE`, as the synthetic generators do). It
carries the parent's NOT NULL constraints and a day-range CHECK from the start (rows are checked as they
arrive, and ATTACH needs no validation scan). On leaving the block it gets the requested indexes
(FlowETL's by default) and ANALYZE; then it replaces any existing partition for that day,
is attached to `events.<type>`, and the day is recorded: `etl.etl_records` ('ingested'), `available_tables`
flags and `events.location_ids`. An exception rolls all of it back. After the commit, on an autocommit
connection and unless the caller analyses later (`analyze=False`), the new partition is VACUUMed so its visibility map is set and index-only scans need no heap.

The `msisdn` index is a composite `(msisdn, datetime, location_id)` (FlowKit's is on msisdn alone). It serves the
same look-ups, and it holds every event of a subscriber in time order: a subscriber's last (or first) located
event is read from it by an index-only scan, with no sort of the day's events (docs/compatibility.md).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql

from flowdb.rows import scalar

CDR_TYPES = ("calls", "sms", "mds", "topups", "forwards")
REPLACE_LOCK = 0x4C6F6164  # advisory-lock namespace for replacing day partitions
# ANALYZE of a day partition samples 300 x this many rows. PostgreSQL's default keeps a multi-million-row day's
# ANALYZE well under a second (target 1000: ~4 s for 1.5 M rows) with good n_distinct estimates at that size.
PARTITION_STATISTICS_TARGET = 100
PARENT_STATISTICS_TARGET = PARTITION_STATISTICS_TARGET
# FlowETL's default indexes plus msisdn, as FlowKit's test data has them.
INDEX_COLUMNS = ("msisdn", "msisdn_counterpart", "location_id", "datetime", "tac")
# The columns each named index covers: msisdn's carries the time order of each subscriber's events.
INDEX_KEYS = {"msisdn": ("msisdn", "datetime", "location_id")}
# (has_locations, has_subscribers, has_counterparts)
AVAILABLE_FLAGS = {
    "calls": (True, True, True),
    "sms": (True, True, True),
    "forwards": (True, True, True),
    "mds": (True, True, False),
    "topups": (True, True, False),
}


def day_table_name(cdr_type: str, day: dt.date) -> str:
    return f"{cdr_type}_{day:%Y%m%d}"


def _check_type(cdr_type: str) -> None:
    if cdr_type not in CDR_TYPES:
        raise ValueError(f"unknown CDR type {cdr_type!r}")


def columns_of(conn: psycopg.Connection, cdr_type: str) -> list[str]:
    """The columns of `events.<cdr_type>` in table order."""
    _check_type(cdr_type)
    rows = conn.execute(
        """SELECT attname FROM pg_attribute
           WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum""",
        (f"events.{cdr_type}",),
    ).fetchall()
    return [r[0] for r in rows]


@contextmanager
def day_partition(
    conn: psycopg.Connection,
    cdr_type: str,
    day: dt.date,
    *,
    indexes: tuple[str, ...] = INDEX_COLUMNS,
    analyze: bool = True,
    location_ids: Callable[[], Collection[str]] | None = None,
) -> Iterator[sql.Identifier]:
    """Yield the name of an empty staging table for one day; publish it as that day's partition on exit.

    A bulk loader that ANALYZEs the parents afterwards passes `analyze=False`: in PostgreSQL 15 analysing a
    partitioned parent analyses every partition too, so analysing each day here as well would do it twice.
    A loader that knows which location ids its rows use gives them through `location_ids` (called after the
    load); otherwise they are read back from the rows.
    """
    _check_type(cdr_type)
    name = day_table_name(cdr_type, day)
    staging = sql.Identifier("etl", f"load_{name}")
    final = sql.Identifier("events", name)
    parent = sql.Identifier("events", cdr_type)
    next_day = day + dt.timedelta(days=1)
    with conn.transaction():
        if scalar(conn.execute("SELECT to_regclass(%s)", (f"events.{name}",))) is not None:
            # Replacing a day drops a partition, which needs the parent exclusively. Two such loads of one
            # type would each hold the parent (CREATE TABLE ... LIKE) and wait for the other: take turns.
            conn.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)", (REPLACE_LOCK, CDR_TYPES.index(cdr_type))
            )
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(staging))
        conn.execute(
            sql.SQL(
                "CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS) WITH (autovacuum_enabled = off)"
            ).format(staging, parent)
        )
        conn.execute(
            sql.SQL(
                "ALTER TABLE {} ADD CONSTRAINT {} CHECK (datetime >= {} AND datetime < {})"
            ).format(
                staging,
                sql.Identifier(f"{name}_datetime_check"),
                sql.Literal(f"{day.isoformat()} 00:00:00+00"),
                sql.Literal(f"{next_day.isoformat()} 00:00:00+00"),
            )
        )
        yield staging
        present = set(columns_of(conn, cdr_type))
        for column in indexes:
            keys = [k for k in INDEX_KEYS.get(column, (column,)) if k in present]
            if column in present:
                conn.execute(
                    sql.SQL("CREATE INDEX {} ON {} ({})").format(
                        sql.Identifier(f"{name}_{column}_idx"),
                        staging,
                        sql.SQL(", ").join(map(sql.Identifier, keys)),
                    )
                )
        if analyze:
            conn.execute(
                sql.SQL("SET LOCAL default_statistics_target = {}").format(
                    sql.Literal(PARTITION_STATISTICS_TARGET)
                )
            )
            conn.execute(sql.SQL("ANALYZE {}").format(staging))
            conn.execute("RESET default_statistics_target")
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(final))
        conn.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(staging, sql.Identifier(name)))
        conn.execute(
            sql.SQL("ALTER TABLE {} SET SCHEMA events").format(sql.Identifier("etl", name))
        )
        conn.execute(sql.SQL("ALTER TABLE {} RESET (autovacuum_enabled)").format(final))
        conn.execute(
            sql.SQL("ALTER TABLE {} ATTACH PARTITION {} FOR VALUES FROM ({}) TO ({})").format(
                parent,
                final,
                sql.Literal(f"{day.isoformat()} 00:00:00+00"),
                sql.Literal(f"{next_day.isoformat()} 00:00:00+00"),
            )
        )
        record_ingested(
            conn, cdr_type, day, final, None if location_ids is None else location_ids()
        )
    if (
        analyze
        and conn.autocommit
        and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    ):
        conn.execute(sql.SQL("VACUUM {}").format(final))


def record_ingested(
    conn: psycopg.Connection,
    cdr_type: str,
    day: dt.date,
    table: sql.Composable,
    location_ids: Collection[str] | None = None,
) -> None:
    """Mark a loaded day as FlowETL does: etl record, available_tables flags, location_ids (those given, or
    else those the rows of `table` use)."""
    conn.execute(
        "INSERT INTO etl.etl_records (cdr_type, cdr_date, state, timestamp) VALUES (%s, %s, 'ingested', now())",
        (cdr_type, day),
    )
    locations, subscribers, counterparts = AVAILABLE_FLAGS[cdr_type]
    conn.execute(
        """INSERT INTO public.available_tables (table_name, has_locations, has_subscribers, has_counterparts)
           VALUES (%s, %s, %s, %s)
           ON CONFLICT (table_name) DO UPDATE SET
               has_locations = available_tables.has_locations OR excluded.has_locations,
               has_subscribers = available_tables.has_subscribers OR excluded.has_subscribers,
               has_counterparts = available_tables.has_counterparts OR excluded.has_counterparts""",
        (cdr_type, locations, subscribers, counterparts),
    )
    used: sql.Composable
    if location_ids is None:
        used = sql.SQL("SELECT location_id FROM {} WHERE location_id IS NOT NULL").format(table)
    else:
        used = sql.SQL("SELECT unnest(%(used)s::text[]) AS location_id")
    conn.execute(
        sql.SQL(
            """INSERT INTO events.location_ids (location_id, cdr_type, first_active_date, last_active_date)
               SELECT location_id, {cdr_type}, {day}::date, {day}::date
               FROM ({used}) u GROUP BY location_id
               ON CONFLICT (location_id, cdr_type) DO UPDATE SET
                   first_active_date = least(location_ids.first_active_date, excluded.first_active_date),
                   last_active_date = greatest(location_ids.last_active_date, excluded.last_active_date)"""
        ).format(cdr_type=sql.Literal(cdr_type), day=sql.Literal(day), used=used),
        None if location_ids is None else {"used": sorted(set(location_ids))},
    )


def analyze_parents(conn: psycopg.Connection, cdr_types: tuple[str, ...] = CDR_TYPES) -> None:
    """VACUUM and ANALYZE the partitioned parents, after a bulk load (on an autocommit connection).

    The planner uses the parents' statistics for estimates across days; in PostgreSQL 15 this also
    (re-)analyses every partition, at the same target as day_partition uses. VACUUM sets the visibility maps
    (index-only scans) of partitions not loaded frozen; the synthetic generators load frozen, so it finds
    their pages all-visible already. It runs here, once nothing is loading any more, since a load still in
    progress would keep the rows of the days already committed from counting as visible to all.
    """
    conn.execute(
        sql.SQL("SET default_statistics_target = {}").format(sql.Literal(PARENT_STATISTICS_TARGET))
    )
    try:
        for cdr_type in cdr_types:
            _check_type(cdr_type)
            conn.execute(sql.SQL("VACUUM (ANALYZE) {}").format(sql.Identifier("events", cdr_type)))
    finally:
        conn.execute("RESET default_statistics_target")
