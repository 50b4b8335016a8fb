"""FlowKit 1.34's default QA checks of one day, combined into one statement.

FlowETL runs each check as its own query: 24 for a calls day, each reading the day, two of them grouping
every row by every column. Here one statement groups the day a few ways, once each, and answers every check
from those groups:

* (msisdn, outgoing, imei, imsi), the handsets: distinct and NULL IMEIs and IMSIs, MSISDNs per IMEI and IMSI,
  on-net MSISDNs (all, outgoing, incoming), outgoing rows;
* (location_id): the rows, distinct and NULL location ids, and, joined to the cells in service that day once
  per id rather than once per row, the locatable events and ids;
* (msisdn_counterpart) for calls and sms, (duration) for calls, whose frequencies give the maximum and the
  median;
* duplicates: a duplicate row repeats (msisdn, datetime), so the day is grouped by that pair, and only the
  rows of pairs seen more than once are grouped by every column (a probe that reads nothing more when no
  pair repeats);
* first and last timestamp, from the datetime index FlowETL makes (else one min/max pass).

Each grouping is a plain GROUP BY, so PostgreSQL reads it from an index where the day has one (FlowETL indexes
location_id, msisdn_counterpart, datetime and tac; our loaders msisdn too) and may split it over parallel
workers. One GROUPING SETS pass over the day was measured too: it reads the day once but was slower (0.36 s
against 0.30 s for a 200,000-row calls day, 8.3 s against 6.7 s for 4 million rows, on one core), as PostgreSQL
runs grouping sets on one core, probes every hash table for every row, and reads no index for them.

Every check has the value FlowETL's own query gives, cast to text by PostgreSQL as FlowETL's INSERT casts it.
Two details: timestamps are written in UTC ('2016-01-01 00:00:12+00', what FlowETL writes on FlowDB, whose time
zone is UTC) whatever the session's time zone; and the median is percentile_cont(0.5)'s float8 interpolation
done on the frequencies, which gives the same double.
"""

from __future__ import annotations

import datetime as dt

import psycopg
from psycopg import sql

from flowdb.events_columns import EVENTS_COLUMNS
from flowdb.qa.macros import check_cdr_type, day_table_name
from flowdb.rows import one_row

# Each type's default checks, FlowKit 1.34's names (16 for every type, +5 for calls and sms, +3 for calls).
COMMON_CHECKS = (
    "count_added_rows",
    "count_duplicated",
    "count_duplicates",
    "count_imeis",
    "count_imsis",
    "count_locatable_events",
    "count_locatable_location_ids",
    "count_location_ids",
    "count_msisdns",
    "count_null_imeis",
    "count_null_imsis",
    "count_null_location_ids",
    "earliest_timestamp",
    "latest_timestamp",
    "max_msisdns_per_imei",
    "max_msisdns_per_imsi",
)
TWO_PARTY_CHECKS = (
    "count_added_rows_outgoing",
    "count_null_counterparts",
    "count_onnet_msisdns",
    "count_onnet_msisdns_incoming",
    "count_onnet_msisdns_outgoing",
)
DURATION_CHECKS = ("count_null_durations", "max_duration", "median_duration")

# Every column of each type but id: a duplicate repeats all of them (FlowETL's count_duplicate* grouping).
DUPLICATE_COLUMNS = {
    cdr_type: tuple(c for c in columns if c != "id") for cdr_type, columns in EVENTS_COLUMNS.items()
}


def _two_party(cdr_type: str) -> bool:
    return cdr_type in ("calls", "sms")


def default_check_names(cdr_type: str) -> tuple[str, ...]:
    """The names of FlowKit 1.34's default checks for `cdr_type` (24 calls, 21 sms, 16 mds and topups). A check
    of one type only is named `<check>.<cdr_type>` (`median_duration.calls`), as FlowETL names its task."""
    check_cdr_type(cdr_type)
    names: tuple[str, ...] = COMMON_CHECKS
    if _two_party(cdr_type):
        names += tuple(f"{n}.{cdr_type}" for n in TWO_PARTY_CHECKS)
    if cdr_type == "calls":
        names += tuple(f"{n}.{cdr_type}" for n in DURATION_CHECKS)
    return tuple(sorted(names))


def day_table(cdr_type: str, day: dt.date) -> sql.Identifier:
    """`events.<cdr_type>_<YYYYMMDD>`, the day's partition."""
    return sql.Identifier("events", day_table_name(cdr_type, day))


def default_checks_statement(cdr_type: str, table: sql.Composable) -> sql.Composed:
    """The statement computing every default check of `table` (one day of `cdr_type`), one text column per
    check named after it; parameter `day` is the day (for the cells in service)."""
    check_cdr_type(cdr_type)
    two_party = _two_party(cdr_type)
    ident = sql.Identifier
    duplicate_columns = sql.SQL(", ").join(
        sql.SQL("e.{}").format(ident(c)) for c in DUPLICATE_COLUMNS[cdr_type]
    )
    suffix = {name: f".{cdr_type}" for name in (*TWO_PARTY_CHECKS, *DURATION_CHECKS)}

    def utc(column: str) -> str:
        return f"({column} AT TIME ZONE 'UTC')::text || '+00'"

    checks: dict[str, str] = {
        "count_added_rows": "per_location.rows",
        "count_duplicated": "repeats.groups",
        "count_duplicates": "repeats.surplus",
        "count_imeis": "imeis.n",
        "count_imsis": "imsis.n",
        "count_null_imeis": "per_handset.null_imeis",
        "count_null_imsis": "per_handset.null_imsis",
        "max_msisdns_per_imei": "imeis.most",
        "max_msisdns_per_imsi": "imsis.most",
        "count_location_ids": "per_location.ids",
        "count_null_location_ids": "per_location.null_rows",
        "count_locatable_events": "locatable.events",
        "count_locatable_location_ids": "locatable.ids",
        "count_msisdns": "subscribers.n" if two_party else "msisdns.onnet",
        "earliest_timestamp": utc("times.first_at"),
        "latest_timestamp": utc("times.last_at"),
    }
    if two_party:
        checks |= {
            "count_added_rows_outgoing": "per_handset.outgoing_rows",
            "count_null_counterparts": "per_counterpart.null_rows",
            "count_onnet_msisdns": "msisdns.onnet",
            "count_onnet_msisdns_incoming": "msisdns.incoming",
            "count_onnet_msisdns_outgoing": "msisdns.outgoing",
        }
    if cdr_type == "calls":
        checks |= {
            "count_null_durations": "per_duration.null_rows",
            "max_duration": "per_duration.longest",
            "median_duration": "median.value",
        }
    expected = set(default_check_names(cdr_type))
    named = {n + suffix.get(n, ""): c for n, c in checks.items()}
    if set(named) != expected:  # pragma: no cover - a programming error
        raise AssertionError(sorted(set(named) ^ expected))
    columns = sql.SQL(",\n       ").join(
        sql.SQL("({})::text AS {}").format(sql.SQL(named[name]), ident(name))
        for name in sorted(named)
    )
    parts = [
        """handsets AS MATERIALIZED (
    SELECT {handset_keys}, count(*) AS n FROM {table} GROUP BY {handset_keys}
)""",
        """locations AS MATERIALIZED (
    SELECT location_id, count(*) AS n FROM {table} GROUP BY location_id
)""",
        """per_location AS (
    SELECT coalesce(sum(n), 0) AS rows, count(*) AS ids,
           coalesce(sum(n) FILTER (WHERE location_id IS NULL), 0) AS null_rows
    FROM locations
)""",
        """per_handset AS (
    SELECT coalesce(sum(n) FILTER (WHERE imei IS NULL), 0) AS null_imeis,
           coalesce(sum(n) FILTER (WHERE imsi IS NULL), 0) AS null_imsis{outgoing_rows}
    FROM handsets
)""",
        """repeated_keys AS MATERIALIZED (
    SELECT msisdn, datetime FROM {table} GROUP BY msisdn, datetime HAVING count(*) > 1
)""",
        """repeats AS (
    SELECT count(*) AS groups, coalesce(sum(copies - 1), 0) AS surplus FROM (
        SELECT count(*) AS copies
        FROM {table} AS e
        WHERE EXISTS (SELECT FROM repeated_keys AS k WHERE k.msisdn = e.msisdn AND k.datetime = e.datetime)
        GROUP BY {duplicate_columns}
        HAVING count(*) > 1
    ) AS repeated
)""",
        "times AS (SELECT min(datetime) AS first_at, max(datetime) AS last_at FROM {table})",
        """imeis AS (
    SELECT count(*) AS n, max(msisdns) AS most FROM (
        SELECT count(*) AS msisdns FROM (
            SELECT imei, msisdn FROM handsets WHERE imei IS NOT NULL GROUP BY imei, msisdn
        ) AS pairs GROUP BY imei
    ) AS per_imei
)""",
        """imsis AS (
    SELECT count(*) AS n, max(msisdns) AS most FROM (
        SELECT count(*) AS msisdns FROM (
            SELECT imsi, msisdn FROM handsets WHERE imsi IS NOT NULL GROUP BY imsi, msisdn
        ) AS pairs GROUP BY imsi
    ) AS per_imsi
)""",
        """per_msisdn AS (
    SELECT msisdn{directions} FROM handsets GROUP BY msisdn
)""",
        """msisdns AS (
    SELECT count(*) AS onnet{direction_counts} FROM per_msisdn
)""",
        """cells AS (
    SELECT id, count(*) AS versions FROM infrastructure.cells
    WHERE geom_point IS NOT NULL
      AND (date_of_first_service IS NULL OR date_of_first_service <= %(day)s::date)
      AND (date_of_last_service IS NULL OR date_of_last_service >= %(day)s::date)
    GROUP BY id
)""",
        """locatable AS (
    SELECT count(*) AS ids, coalesce(sum(locations.n * cells.versions), 0) AS events
    FROM locations JOIN cells ON cells.id = locations.location_id
)""",
    ]
    sources = [
        "per_location",
        "per_handset",
        "repeats",
        "times",
        "imeis",
        "imsis",
        "msisdns",
        "locatable",
    ]
    if two_party:
        parts += [
            """counterparts AS MATERIALIZED (
    SELECT msisdn_counterpart, count(*) AS n FROM {table} GROUP BY msisdn_counterpart
)""",
            """per_counterpart AS (
    SELECT coalesce(sum(n) FILTER (WHERE msisdn_counterpart IS NULL), 0) AS null_rows FROM counterparts
)""",
            """subscribers AS (
    SELECT count(*) AS n FROM (
        SELECT msisdn FROM per_msisdn
        UNION SELECT msisdn_counterpart FROM counterparts WHERE msisdn_counterpart IS NOT NULL
    ) AS either_side
)""",
        ]
        sources += ["per_counterpart", "subscribers"]
    if cdr_type == "calls":
        parts += [
            """durations AS MATERIALIZED (
    SELECT duration, count(*) AS n FROM {table} GROUP BY duration
)""",
            """per_duration AS (
    SELECT coalesce(sum(n) FILTER (WHERE duration IS NULL), 0) AS null_rows, max(duration) AS longest
    FROM durations
)""",
            """sorted_durations AS (
    SELECT duration::float8 AS v, sum(n) OVER (ORDER BY duration) AS upto
    FROM durations WHERE duration IS NOT NULL
)""",
            """median AS (
    SELECT CASE WHEN mod(total, 2) = 1 THEN lo ELSE lo + 0.5::float8 * (hi - lo) END AS value
    FROM (
        SELECT total,
               (SELECT v FROM sorted_durations WHERE upto > (total - 1) / 2 ORDER BY upto LIMIT 1) AS lo,
               (SELECT v FROM sorted_durations WHERE upto > total / 2 ORDER BY upto LIMIT 1) AS hi
        FROM (SELECT max(upto)::bigint AS total FROM sorted_durations) AS t
    ) AS m
)""",
        ]
        sources += ["per_duration", "median"]
    handset_keys = (
        ("msisdn", "outgoing", "imei", "imsi") if two_party else ("msisdn", "imei", "imsi")
    )
    fill = {
        "table": table,
        "handset_keys": sql.SQL(", ").join(map(ident, handset_keys)),
        "duplicate_columns": duplicate_columns,
        "outgoing_rows": sql.SQL(
            ",\n           coalesce(sum(n) FILTER (WHERE outgoing), 0) AS outgoing_rows"
            if two_party
            else ""
        ),
        "directions": sql.SQL(
            ", bool_or(outgoing) AS outgoing, bool_or(NOT outgoing) AS incoming"
            if two_party
            else ""
        ),
        "direction_counts": sql.SQL(
            ", count(*) FILTER (WHERE outgoing) AS outgoing, count(*) FILTER (WHERE incoming) AS incoming"
            if two_party
            else ""
        ),
    }
    return sql.SQL("WITH {parts}\nSELECT {columns}\nFROM {sources}").format(
        parts=sql.SQL(",\n").join(sql.SQL(p).format(**fill) for p in parts),
        columns=columns,
        sources=sql.SQL(", ").join(map(ident, sources)),
    )


def default_outcomes(
    conn: psycopg.Connection,
    cdr_type: str,
    day: dt.date,
    *,
    table: sql.Identifier | None = None,
) -> dict[str, str | None]:
    """FlowKit's default checks of one day, computed in one statement: {check name: outcome text or None}.

    `table` is the relation holding the day's rows (default `events.<cdr_type>_<YYYYMMDD>`); its msisdn and
    datetime must be non-NULL, as the events tables require."""
    check_cdr_type(cdr_type)
    relation = day_table(cdr_type, day) if table is None else table
    if not isinstance(relation, sql.Identifier):
        raise TypeError("table must be a psycopg.sql.Identifier")
    with conn.cursor() as cur:
        cur.execute(default_checks_statement(cdr_type, relation), {"day": day})
        row = one_row(cur)
        names = [d.name for d in cur.description or ()]
    return dict(zip(names, row, strict=True))
