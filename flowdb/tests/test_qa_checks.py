"""QA checks (flowdb.qa): FlowKit 1.34's defaults combined in one statement equal the same checks run one query
each and an independent pandas computation, on small days built to hit every edge (duplicates, NULL IMEIs,
IMSIs and location ids, unknown and out-of-service cells, off-net counterparts); user checks are found, named
and stored as FlowETL does."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pandas as pd
import psycopg
import pytest
from psycopg import sql

from flowdb.cluster import Cluster
from flowdb.errors import FlowDBError
from flowdb.qa import (
    QA_CDR_TYPES,
    default_check_names,
    default_outcomes,
    find_qa_checks,
    flowkit_default_outcomes,
    run_qa_checks,
)
from flowdb.synthetic.config import SyntheticConfig
from flowdb.synthetic.loading import day_partition
from flowdb.synthetic.python_generator import World, generate_python

DAY = dt.date(2031, 6, 1)  # every type, every edge
SMALL_DAY = dt.date(
    2031, 6, 2
)  # three calls (two durations: the median between them), no sms at all
DAYS = (DAY, SMALL_DAY)

# (id, version, first service, last service, has a point): the cells the events point at.
CELLS = [
    ("qa-ok", 0, dt.date(2020, 1, 1), None, True),
    (
        "qa-twice",
        0,
        None,
        None,
        True,
    ),  # two versions in service that day: FlowETL's join counts both
    ("qa-twice", 1, dt.date(2031, 1, 1), None, True),
    ("qa-nogeom", 0, None, None, False),
    ("qa-retired", 0, None, dt.date(2031, 5, 31), True),
    ("qa-future", 0, dt.date(2031, 6, 2), None, True),
    ("qa-lastday", 0, None, DAY, True),
    ("qa-firstday", 0, DAY, None, True),
]

# msisdn, time of day, imei, imsi, location_id, tac
BASE = [
    ("A", "00:00:00.5", "I1", "S1", "qa-ok", 1),
    ("A", "01:00:00", "I1", "S1", "qa-twice", 1),
    ("B", "02:00:00", "I1", "S2", "qa-nogeom", 2),
    ("C", "03:00:00", "I1", None, "qa-retired", 3),
    ("D", "04:00:00", None, "S2", "qa-unknown", None),
    ("E", "05:00:00", None, None, None, None),
    ("F", "23:59:59.999999", "I6", "S6", "qa-lastday", 6),
    ("G", "12:00:00", "I7", "S7", "qa-firstday", 7),
    ("H", "13:00:00", "I8", "S8", "qa-future", 8),
    ("A", "14:00:00", "I1", "S1", "qa-ok", 1),
    ("B", "14:00:00", "I1", "S2", "qa-ok", 2),
    (
        "E",
        "15:00:00",
        None,
        None,
        None,
        None,
    ),  # copied twice below: NULLs compare equal in a duplicate
    ("G", "16:00:00", "I7", "S7", "qa-twice", 7),  # copied three times below
    ("G", "16:00:00", "I7", "S7", "qa-ok", 7),  # same msisdn and time, another cell: no duplicate
]
COPIES = {11: 2, 12: 3}  # base index -> times the whole row appears
DURATIONS = [Decimal("12.5"), Decimal("0"), None, Decimal("2600"), Decimal("7"), Decimal("300")]
COUNTERPARTS = [None, "A", "Z-offnet", "B", "Y-offnet"]


def _typed(cdr_type: str, i: int) -> dict:
    """Type-specific columns of base row i."""
    outgoing = (True, False, None)[i % 3]
    if cdr_type in ("calls", "sms"):
        extra = {
            "outgoing": outgoing,
            "msisdn_counterpart": COUNTERPARTS[i % len(COUNTERPARTS)],
            "network": None if i % 2 else "net",
        }
        if cdr_type == "calls":
            extra["duration"] = DURATIONS[i % len(DURATIONS)]
        return extra
    if cdr_type == "mds":
        up, down = Decimal(10 * i), Decimal(3 * i)
        return {
            "duration": DURATIONS[i % len(DURATIONS)],
            "volume_total": up + down,
            "volume_upload": up,
            "volume_download": down,
        }
    amount = Decimal(100 * (i % 3))
    return {
        "type": "recharge" if i % 4 else None,
        "recharge_amount": amount,
        "airtime_fee": Decimal(0),
        "tax_and_fee": amount / 10,
        "pre_event_balance": Decimal(i),
        "post_event_balance": Decimal(i) + amount,
    }


def day_rows(cdr_type: str, day: dt.date) -> list[dict]:
    if day == SMALL_DAY:
        if cdr_type != "calls":
            return []
        base = [(0, BASE[0]), (1, BASE[3]), (2, BASE[6])]
        copies: dict[int, int] = {}
    else:
        base = list(enumerate(BASE))
        copies = COPIES
    rows = []
    for i, (msisdn, at, imei, imsi, location_id, tac) in base:
        row = {
            "msisdn": msisdn,
            "datetime": dt.datetime.fromisoformat(f"{day}T{at}+00:00"),
            "imei": imei,
            "imsi": imsi,
            "location_id": location_id,
            "tac": tac,
            **_typed(cdr_type, i),
        }
        for _ in range(copies.get(i, 1)):
            rows.append({"id": f"qa{len(rows)}", **row})
    return rows


@pytest.fixture(scope="module")
def conn(cluster: Cluster):
    with cluster.connect() as c:
        c.execute("DELETE FROM infrastructure.cells WHERE id LIKE 'qa-%%'")
        with c.cursor() as cur:
            cur.executemany(
                """INSERT INTO infrastructure.cells
                       (id, version, date_of_first_service, date_of_last_service, geom_point)
                   VALUES (%s, %s, %s, %s, CASE WHEN %s THEN ST_SetSRID(ST_MakePoint(85, 28), 4326) END)""",
                CELLS,
            )
        for day in DAYS:
            for cdr_type in QA_CDR_TYPES:
                rows = day_rows(cdr_type, day)
                with day_partition(c, cdr_type, day) as table:
                    if rows:
                        columns = list(rows[0])
                        with c.cursor() as cur:
                            cur.executemany(
                                sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                                    table,
                                    sql.SQL(", ").join(map(sql.Identifier, columns)),
                                    sql.SQL(", ").join(sql.Placeholder() * len(columns)),
                                ),
                                [tuple(r[k] for k in columns) for r in rows],
                            )
        yield c
        for day in DAYS:
            for cdr_type in QA_CDR_TYPES:
                c.execute(
                    sql.SQL("DROP TABLE IF EXISTS {}").format(
                        sql.Identifier("events", f"{cdr_type}_{day:%Y%m%d}")
                    )
                )
        c.execute("DELETE FROM etl.etl_records WHERE cdr_date = ANY(%s)", (list(DAYS),))
        c.execute("DELETE FROM etl.post_etl_queries WHERE cdr_date = ANY(%s)", (list(DAYS),))
        c.execute("DELETE FROM events.location_ids WHERE location_id LIKE 'qa-%%'")
        c.execute("DELETE FROM infrastructure.cells WHERE id LIKE 'qa-%%'")


# --- an independent computation with pandas ---------------------------------------------------------------


def _pg_timestamp(ts: dt.datetime) -> str:
    """PostgreSQL's text for a timestamptz in UTC."""
    text = ts.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f").rstrip("0").rstrip(".")
    return text + "+00"


def _pg_float(x: float) -> str:
    """PostgreSQL's text for a float8 (shortest exact; no '.0' for whole numbers)."""
    text = repr(x)
    return text[:-2] if text.endswith(".0") else text


def expected(cdr_type: str, day: dt.date) -> dict[str, str | None]:
    frame = pd.DataFrame(day_rows(cdr_type, day), columns=list(day_rows(cdr_type, DAY)[0]))
    two_party = cdr_type in ("calls", "sms")

    def count(n) -> str:
        return str(int(n))

    compared = [c for c in frame.columns if c != "id"]
    sizes = (
        frame.groupby(compared, dropna=False).size() if len(frame) else pd.Series([], dtype="int64")
    )
    versions = {}
    for cell_id, _, first, last, point in CELLS:
        in_service = (first is None or first <= day) and (last is None or last >= day)
        versions[cell_id] = versions.get(cell_id, 0) + (1 if point and in_service else 0)
    per_row = frame["location_id"].map(lambda c: versions.get(c, 0))

    def most_per(column: str) -> str | None:
        known = frame[frame[column].notna()]
        return None if known.empty else count(known.groupby(column)["msisdn"].nunique().max())

    subscribers = set(frame["msisdn"])
    if two_party:
        subscribers |= set(frame["msisdn_counterpart"].dropna())
    out = {
        "count_added_rows": count(len(frame)),
        "count_duplicated": count((sizes > 1).sum()),
        "count_duplicates": count((sizes[sizes > 1] - 1).sum()),
        "count_imeis": count(frame["imei"].dropna().nunique()),
        "count_imsis": count(frame["imsi"].dropna().nunique()),
        "count_null_imeis": count(frame["imei"].isna().sum()),
        "count_null_imsis": count(frame["imsi"].isna().sum()),
        "count_null_location_ids": count(frame["location_id"].isna().sum()),
        "count_location_ids": count(frame["location_id"].nunique(dropna=False)),
        "count_locatable_events": count(per_row.sum()),
        "count_locatable_location_ids": count(frame.loc[per_row > 0, "location_id"].nunique()),
        "count_msisdns": count(len(subscribers)),
        "earliest_timestamp": _pg_timestamp(frame["datetime"].min()) if len(frame) else None,
        "latest_timestamp": _pg_timestamp(frame["datetime"].max()) if len(frame) else None,
        "max_msisdns_per_imei": most_per("imei"),
        "max_msisdns_per_imsi": most_per("imsi"),
    }
    if two_party:
        outgoing = frame["outgoing"]
        out |= {
            f"{name}.{cdr_type}": value
            for name, value in {
                "count_added_rows_outgoing": count((outgoing == True).sum()),  # noqa: E712
                "count_null_counterparts": count(frame["msisdn_counterpart"].isna().sum()),
                "count_onnet_msisdns": count(frame["msisdn"].nunique()),
                "count_onnet_msisdns_incoming": count(
                    frame.loc[outgoing == False, "msisdn"].nunique()  # noqa: E712
                ),
                "count_onnet_msisdns_outgoing": count(
                    frame.loc[outgoing == True, "msisdn"].nunique()  # noqa: E712
                ),
            }.items()
        }
    if cdr_type == "calls":
        durations = sorted(float(d) for d in frame["duration"].dropna())
        n = len(durations)
        lo, hi = durations[(n - 1) // 2], durations[n // 2]
        median = lo if n % 2 else lo + 0.5 * (hi - lo)
        out |= {
            "count_null_durations.calls": count(frame["duration"].isna().sum()),
            "max_duration.calls": str(max(frame["duration"].dropna())),
            "median_duration.calls": _pg_float(median),
        }
    return out


# --- the checks --------------------------------------------------------------------------------------------


def test_default_check_names_and_counts() -> None:
    counts = {t: len(default_check_names(t)) for t in QA_CDR_TYPES}
    assert counts == {"calls": 24, "sms": 21, "mds": 16, "topups": 16}
    assert "median_duration.calls" in default_check_names("calls")
    assert "count_onnet_msisdns.sms" in default_check_names("sms")
    for cdr_type in QA_CDR_TYPES:  # the one-query-per-check templates are the same checks
        assert sorted(c.name for c in find_qa_checks(cdr_type)) == sorted(
            default_check_names(cdr_type)
        )
    with pytest.raises(ValueError, match="unknown CDR type"):
        default_check_names("forwards")


@pytest.mark.parametrize("cdr_type", QA_CDR_TYPES)
def test_combined_equals_one_query_per_check_and_pandas(conn, cdr_type) -> None:
    for day in DAYS:
        combined = default_outcomes(conn, cdr_type, day)
        assert combined == flowkit_default_outcomes(conn, cdr_type, day)
        assert combined == expected(cdr_type, day)
    if cdr_type == "calls":  # the edges were hit
        on_day = default_outcomes(conn, cdr_type, DAY)
        assert on_day["count_added_rows"] == "17"
        assert (on_day["count_duplicated"], on_day["count_duplicates"]) == ("2", "3")
        # 4 events at qa-ok, 4 at qa-twice (two versions in service: counted twice), 1 each on the first
        # and last day of service; none at qa-nogeom, qa-retired, qa-future, qa-unknown or NULL.
        assert (on_day["count_locatable_events"], on_day["count_locatable_location_ids"]) == (
            "14",
            "4",
        )
        assert (on_day["count_location_ids"], on_day["count_null_location_ids"]) == ("9", "3")
        assert (on_day["max_msisdns_per_imei"], on_day["max_msisdns_per_imsi"]) == ("3", "2")
        assert on_day["median_duration.calls"] == "12.5"
        assert on_day["earliest_timestamp"] == "2031-06-01 00:00:00.5+00"
        assert on_day["latest_timestamp"] == "2031-06-01 23:59:59.999999+00"
        assert default_outcomes(conn, cdr_type, SMALL_DAY)["median_duration.calls"] == "6.25"


def test_a_table_is_named_by_identifier_only(conn) -> None:
    table = sql.Identifier("events", f"mds_{DAY:%Y%m%d}")
    assert default_outcomes(conn, "mds", DAY, table=table) == default_outcomes(conn, "mds", DAY)
    with pytest.raises(TypeError):
        default_outcomes(conn, "mds", DAY, table="events.mds_20310601")  # type: ignore[arg-type]


def _stored(conn: psycopg.Connection, cdr_type: str, day: dt.date) -> dict[str, str | None]:
    return dict(
        conn.execute(
            """SELECT type_of_query_or_check, outcome FROM etl.deduped_post_etl_queries
               WHERE cdr_type = %s AND cdr_date = %s""",
            (cdr_type, day),
        ).fetchall()
    )


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_user_checks_are_found_named_run_and_stored(conn, tmp_path) -> None:
    mine, first = tmp_path / "dags", tmp_path / "first"
    _write(
        mine / "qa_checks" / "rows_of_a.sql",
        "SELECT count(*) FROM {{ final_table }} WHERE msisdn LIKE 'A%' -- a comment at the end;\n",
    )
    _write(
        mine / "qa_checks" / "calls" / "macros.sql",
        "SELECT '{{ ds }} {{ ds_nodash }} {{ tomorrow_ds }} {{ table_name }} {{ final_table }} "
        "{{ params.cdr_type }} {{ staging_table }} {{ source_table }}';",
    )
    _write(mine / "qa_checks" / "sms" / "sms_only.sql", "SELECT 1")
    _write(mine / "qa_checks" / "broken.sql", "SELECT no_such_column FROM {{ final_table }}")
    _write(mine / "qa_checks" / "two_rows.sql", "SELECT 1 UNION ALL SELECT 2")
    _write(mine / "qa_checks" / "undefined.sql", "SELECT {{ no_such_macro }}")
    _write(mine / "qa_checks" / "count_added_rows.sql", "SELECT 41")
    _write(first / "qa_checks" / "count_added_rows.sql", "SELECT 42")  # the first directory wins
    _write(mine / "elsewhere" / "ignored.sql", "SELECT 1")

    result = run_qa_checks(
        conn,
        "calls",
        DAY,
        extra_directories=[first, mine],
        extra_macros={"source_table": "etl.my_source"},
    )
    defaults = default_outcomes(conn, "calls", DAY)
    stored = _stored(conn, "calls", DAY)
    assert stored == result.outcomes
    assert set(stored) == set(defaults) | {"rows_of_a", "macros.calls"}
    assert stored["count_added_rows"] == "42"
    assert stored["rows_of_a"] == "3"
    assert stored["macros.calls"] == (
        "2031-06-01 20310601 2031-06-02 calls_20310601 events.calls_20310601 calls "
        "etl.stg_calls_20310601 etl.my_source"
    )
    assert {k: v for k, v in stored.items() if k in defaults and k != "count_added_rows"} == {
        k: v for k, v in defaults.items() if k != "count_added_rows"
    }
    assert set(result.errors) == {"broken", "two_rows", "undefined"}
    assert "no_such_column" in result.errors["broken"]
    assert "no_such_macro" in result.errors["undefined"]

    sms = run_qa_checks(conn, "sms", DAY, extra_directories=[mine], store=False)
    assert {"sms_only.sms", "rows_of_a"} <= set(sms.outcomes) and "macros.calls" not in sms.outcomes


def test_two_checks_of_one_name_are_refused(tmp_path) -> None:
    _write(tmp_path / "qa_checks" / "twin.sql", "SELECT 1")
    _write(tmp_path / "more" / "qa_checks" / "twin.sql", "SELECT 2")
    with pytest.raises(ValueError, match="two QA checks are named 'twin'"):
        find_qa_checks("calls", [tmp_path])
    with pytest.raises(ValueError, match="does not exist"):
        find_qa_checks("calls", [tmp_path / "missing"])


def test_the_latest_run_is_what_flowapi_serves(conn, tmp_path) -> None:
    run_qa_checks(conn, "topups", DAY)
    first = _stored(conn, "topups", DAY)
    assert first == default_outcomes(conn, "topups", DAY) and len(first) == 16
    _write(tmp_path / "qa_checks" / "count_added_rows.sql", "SELECT 7")
    run_qa_checks(conn, "topups", DAY, extra_directories=[tmp_path])
    assert _stored(conn, "topups", DAY) == {**first, "count_added_rows": "7"}


def test_synthetic_days_skip_their_checks_when_asked(cluster: Cluster) -> None:
    assert SyntheticConfig.from_env({"SKIP_TEST_QA_CHECK": "true"}).skip_test_qa_check is True
    assert SyntheticConfig.from_env({}).skip_test_qa_check is False
    with pytest.raises(FlowDBError, match="SKIP_TEST_QA_CHECK must be true or false"):
        SyntheticConfig.from_env({"SKIP_TEST_QA_CHECK": "sometimes"})
    day = dt.date(2031, 7, 1)
    world = World.from_cells(["qa-w1", "qa-w2"], ["A3_1", "A3_2"], ["A2_1", "A2_1"], [35_000_001])
    config = SyntheticConfig(
        generator="python",
        n_days=1,
        n_subscribers=20,
        n_calls=10,
        n_sms=0,
        n_mds=5,
        n_topups=0,
        start_date=day,
        skip_test_qa_check=True,
    ).validate()
    with cluster.connect() as c:
        try:
            assert generate_python(c, config, world) == {"calls": 20, "mds": 5}
            ingested = c.execute(
                "SELECT count(*) FROM etl.available_dates WHERE cdr_date = %s", (day,)
            ).fetchone()[0]
            checks = c.execute(
                "SELECT count(*) FROM etl.post_etl_queries WHERE cdr_date = %s", (day,)
            ).fetchone()[0]
            assert (ingested, checks) == (2, 0)
        finally:
            for cdr_type in ("calls", "mds"):
                c.execute(
                    sql.SQL("DROP TABLE IF EXISTS {}").format(
                        sql.Identifier("events", f"{cdr_type}_{day:%Y%m%d}")
                    )
                )
            c.execute("DELETE FROM etl.etl_records WHERE cdr_date = %s", (day,))
            c.execute("DELETE FROM events.location_ids WHERE location_id LIKE 'qa-w%%'")
