"""FlowKit 1.34's default QA checks of one day, combined into one statement.

FlowETL runs each check as its own query: 24 for a calls day, 24 reads of the day, two of them grouping every
row by every column. Here one statement reads the day twice:

* one hashed GROUPING SETS pass counts the rows of a few small groupings at once: (msisdn, outgoing, imei,
  imsi), the handsets (distinct and NULL IMEIs and IMSIs, MSISDNs per IMEI and IMSI, on-net MSISDNs, outgoing
  rows); (location_id) (distinct and NULL location ids, joined to the cells in service that day once per id
  rather than once per row); (msisdn_counterpart); (duration), whose frequencies give the maximum and the
  median; and () the rows;
* duplicates: a duplicate row repeats (msisdn, datetime), so the day is grouped by that pair alone (by the
  msisdn index where there is one), and only the rows of pairs seen more than once are grouped by every
  column. Keeping this grouping out of the grouping sets is faster: its one group per row made the
  GROUPING SETS pass nearly twice as slow as it and the other groupings run one after the other;
* first and last timestamp come from the datetime index where there is one (FlowETL makes it), else from a
  plain min/max scan.

Every check has the value FlowETL's own query gives, cast to text by PostgreSQL as FlowETL's INSERT casts it.
Two details: timestamps are written in UTC ('2016-01-01 00:00:12+00', what FlowETL writes on FlowDB, whose time
zone is UTC) whatever the session's time zone; and the median is percentile_cont(0.5)'s float8 interpolation
done on the frequencies, which gives the same double.
"""

from __future__ import annotations

import datetime as dt

import psycopg
from psycopg import sql

from flowdb.qa.macros import check_cdr_type, day_table_name

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
    "calls": ("outgoing", "duration", "msisdn_counterpart", "network"),
    "sms": ("outgoing", "msisdn_counterpart", "network"),
    "mds": ("duration", "volume_total", "volume_upload", "volume_download"),
    "topups": (
        "type",
        "recharge_amount",
        "airtime_fee",
        "tax_and_fee",
        "pre_event_balance",
        "post_event_balance",
    ),
}
COMMON_DUPLICATE_COLUMNS = (
    "datetime",
    "msisdn",
    "location_id",
    "imsi",
    "imei",
    "tac",
    "operator_code",
    "country_code",
)


def _two_party(cdr_type: str) -> bool:
    return cdr_type in ("calls", "sms")


def default_check_names(cdr_type: str) -> tuple[str, ...]:
    """The names of FlowKit 1.34's default checks for `cdr_type` (24 calls, 21 sms, 16 mds and topups). A check
    of one type only is named `<check>.<cdr_type>` (`median_duration.calls`), as FlowETL names its task."""
    check_cdr_type(cdr_type)
    names = COMMON_CHECKS
    if _two_party(cdr_type):
        names += tuple(f"{n}.{cdr_type}" for n in TWO_PARTY_CHECKS)
    if cdr_type == "calls":
        names += tuple(f"{n}.{cdr_type}" for n in DURATION_CHECKS)
    return tuple(sorted(names))


def day_table(cdr_type: str, day: dt.date) -> sql.Identifier:
    """`events.<cdr_type>_<YYYYMMDD>`, the day's partition."""
    return sql.Identifier("events", day_table_name(cdr_type, day))


def _sets(cdr_type: str) -> dict[str, tuple[str, ...]]:
    sets = {
        "handset": ("msisdn", "outgoing", "imei", "imsi")
        if _two_party(cdr_type)
        else ("msisdn", "imei", "imsi"),
        "location": ("location_id",),
    }
    if _two_party(cdr_type):
        sets["counterpart"] = ("msisdn_counterpart",)
    if cdr_type == "calls":
        sets["duration"] = ("duration",)
    sets["all"] = ()
    return sets


def default_checks_statement(cdr_type: str, table: sql.Composable) -> sql.Composed:
    """The statement computing every default check of `table` (one day of `cdr_type`), one text column per
    check named after it; parameter `day` is the day (for the cells in service)."""
    check_cdr_type(cdr_type)
    two_party = _two_party(cdr_type)
    sets = _sets(cdr_type)
    keys = list(dict.fromkeys(c for cols in sets.values() for c in cols))
    # GROUPING(keys) has a 1 bit for each key a set leaves out, the last key being the lowest bit.
    mask = {
        name: sum(1 << (len(keys) - 1 - i) for i, k in enumerate(keys) if k not in cols)
        for name, cols in sets.items()
    }
    ident = sql.Identifier
    group_sets = sql.SQL(", ").join(
        sql.SQL("({})").format(sql.SQL(", ").join(map(ident, cols))) for cols in sets.values()
    )
    duplicate_columns = sql.SQL(", ").join(
        sql.SQL("e.{}").format(ident(c))
        for c in (*DUPLICATE_COLUMNS[cdr_type], *COMMON_DUPLICATE_COLUMNS)
    )
    suffix = {name: f".{cdr_type}" for name in (*TWO_PARTY_CHECKS, *DURATION_CHECKS)}

    def utc(column: str) -> str:
        return f"({column} AT TIME ZONE 'UTC')::text || '+00'"

    checks: dict[str, str] = {
        "count_added_rows": "totals.rows",
        "count_duplicated": "repeats.groups",
        "count_duplicates": "repeats.surplus",
        "count_imeis": "imeis.n",
        "count_imsis": "imsis.n",
        "count_null_imeis": "totals.null_imeis",
        "count_null_imsis": "totals.null_imsis",
        "max_msisdns_per_imei": "imeis.most",
        "max_msisdns_per_imsi": "imsis.most",
        "count_location_ids": "totals.location_ids",
        "count_null_location_ids": "totals.null_location_ids",
        "count_locatable_events": "locatable.events",
        "count_locatable_location_ids": "locatable.ids",
        "count_msisdns": "subscribers.n" if two_party else "msisdns.onnet",
        "earliest_timestamp": utc("times.first_at"),
        "latest_timestamp": utc("times.last_at"),
    }
    if two_party:
        checks |= {
            "count_added_rows_outgoing": "totals.outgoing_rows",
            "count_null_counterparts": "totals.null_counterparts",
            "count_onnet_msisdns": "msisdns.onnet",
            "count_onnet_msisdns_incoming": "msisdns.incoming",
            "count_onnet_msisdns_outgoing": "msisdns.outgoing",
        }
    if cdr_type == "calls":
        checks |= {
            "count_null_durations": "totals.null_durations",
            "max_duration": "totals.max_duration",
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
    of = {name: sql.Literal(m) for name, m in mask.items()}
    totals = [
        "coalesce(sum(n) FILTER (WHERE s = {all}), 0) AS rows",
        "coalesce(sum(n) FILTER (WHERE s = {handset} AND imei IS NULL), 0) AS null_imeis",
        "coalesce(sum(n) FILTER (WHERE s = {handset} AND imsi IS NULL), 0) AS null_imsis",
        "count(*) FILTER (WHERE s = {location}) AS location_ids",
        "coalesce(sum(n) FILTER (WHERE s = {location} AND location_id IS NULL), 0) AS null_location_ids",
    ]
    if two_party:
        totals += [
            "coalesce(sum(n) FILTER (WHERE s = {handset} AND outgoing), 0) AS outgoing_rows",
            "coalesce(sum(n) FILTER (WHERE s = {counterpart} AND msisdn_counterpart IS NULL), 0)"
            " AS null_counterparts",
        ]
    if cdr_type == "calls":
        totals += [
            "coalesce(sum(n) FILTER (WHERE s = {duration} AND duration IS NULL), 0) AS null_durations",
            "max(duration) FILTER (WHERE s = {duration}) AS max_duration",
        ]
    parts = [
        """g AS MATERIALIZED (
    SELECT grouping({keys}) AS s, {keys}, count(*) AS n
    FROM {table}
    GROUP BY GROUPING SETS ({group_sets})
)""",
        # A duplicate repeats (msisdn, datetime): only the rows of pairs seen twice are grouped by every column
        # (materialised, so that parallel workers do not each group the day again; with no such pair, the hash
        # join reads no row of the day).
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
        # min and max read an index on datetime where there is one (FlowETL makes one).
        "times AS (SELECT min(datetime) AS first_at, max(datetime) AS last_at FROM {table})",
        "totals AS (SELECT {totals} FROM g)",
        """imeis AS (
    SELECT count(*) AS n, max(msisdns) AS most FROM (
        SELECT count(*) AS msisdns FROM (
            SELECT imei, msisdn FROM g WHERE s = {handset} AND imei IS NOT NULL GROUP BY imei, msisdn
        ) AS pairs GROUP BY imei
    ) AS per_imei
)""",
        """imsis AS (
    SELECT count(*) AS n, max(msisdns) AS most FROM (
        SELECT count(*) AS msisdns FROM (
            SELECT imsi, msisdn FROM g WHERE s = {handset} AND imsi IS NOT NULL GROUP BY imsi, msisdn
        ) AS pairs GROUP BY imsi
    ) AS per_imsi
)""",
        """per_msisdn AS (
    SELECT msisdn{directions} FROM g WHERE s = {handset} GROUP BY msisdn
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
    SELECT count(*) AS ids, coalesce(sum(g.n * cells.versions), 0) AS events
    FROM g JOIN cells ON cells.id = g.location_id WHERE g.s = {location}
)""",
    ]
    sources = ["totals", "repeats", "times", "imeis", "imsis", "msisdns", "locatable"]
    if two_party:
        parts.append(
            """subscribers AS (
    SELECT count(*) AS n FROM (
        SELECT msisdn FROM per_msisdn
        UNION SELECT msisdn_counterpart FROM g WHERE s = {counterpart} AND msisdn_counterpart IS NOT NULL
    ) AS either_side
)"""
        )
        sources.append("subscribers")
    if cdr_type == "calls":
        # percentile_cont(0.5) from the durations' frequencies: the value at 0-based position (N - 1) / 2 of
        # the sorted non-NULL durations when N is odd, else lo + 0.5 * (hi - lo) of the two around it (float8).
        parts += [
            """durations AS (
    SELECT duration::float8 AS v, sum(n) OVER (ORDER BY duration) AS upto
    FROM g WHERE s = {duration} AND duration IS NOT NULL
)""",
            """median AS (
    SELECT CASE WHEN mod(total, 2) = 1 THEN lo ELSE lo + 0.5::float8 * (hi - lo) END AS value
    FROM (
        SELECT total,
               (SELECT v FROM durations WHERE upto > (total - 1) / 2 ORDER BY upto LIMIT 1) AS lo,
               (SELECT v FROM durations WHERE upto > total / 2 ORDER BY upto LIMIT 1) AS hi
        FROM (SELECT max(upto)::bigint AS total FROM durations) AS t
    ) AS m
)""",
        ]
        sources.append("median")
    fill = {
        "keys": sql.SQL(", ").join(map(ident, keys)),
        "table": table,
        "group_sets": group_sets,
        "duplicate_columns": duplicate_columns,
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
        **of,
    }
    fill["totals"] = sql.SQL(",\n    ").join(sql.SQL(t).format(**fill) for t in totals)
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
        row = cur.fetchone()
        names = [d.name for d in cur.description]
    return dict(zip(names, row, strict=True))
