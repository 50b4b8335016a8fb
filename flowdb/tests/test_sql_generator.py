"""The SQL generator's behaviour, measured back from the data it writes."""

from __future__ import annotations

import datetime as dt
from functools import partial

import pandas as pd
import psycopg
import pytest

from flowdb.errors import FlowDBError
from flowdb.synthetic.config import SyntheticConfig
from flowdb.synthetic.infrastructure import CELL_REGIONS_SQL
from flowdb.synthetic.run import generate
from flowdb.synthetic.sql_generator import generate_sql
from flowdb.testing import visible_pages

START = dt.date(2016, 1, 1)
DISASTER_DAYS = (START + dt.timedelta(days=3), START + dt.timedelta(days=4))


def small_config(**overrides) -> SyntheticConfig:
    values = dict(
        generator="sql",
        n_days=7,
        n_subscribers=400,
        n_sites=150,
        n_cells=200,
        n_tacs=50,
        n_calls=20_000,
        n_sms=5_000,
        n_mds=5_000,
        n_topups=1_000,
        p_out_of_area=0.2,
        p_relocate=0.1,
        n_admin1=3,
        n_admin2=8,
        n_admin3=30,
    )
    values.update(overrides)
    return SyntheticConfig(**values).validate()


def _connect(cluster):
    return partial(psycopg.connect, cluster.settings.url(), autocommit=True)


def _disaster_region(cluster) -> str:
    """An admin2 unit holding a good share of the cells, found on a first, disaster-free world."""
    generate(_connect(cluster), small_config(n_calls=0, n_sms=0, n_mds=0, n_topups=1))
    with _connect(cluster)() as conn:
        return conn.execute(
            f"SELECT admin2pcod FROM ({CELL_REGIONS_SQL}) r GROUP BY admin2pcod "
            "ORDER BY count(*) DESC, admin2pcod LIMIT 1 OFFSET 1"
        ).fetchone()[0]


@pytest.fixture(scope="module")
def generated(cluster, native_library):
    """Data of the native path, the default where it can be built (its rows equal the SQL expressions' rows:
    test_native_rows_equal_the_sql_expressions_rows)."""
    region = _disaster_region(cluster)
    config = small_config(
        disaster_region_pcod=region, disaster_start=DISASTER_DAYS[0], disaster_end=DISASTER_DAYS[1]
    )
    report = generate(_connect(cluster), config, native_library=native_library)
    with _connect(cluster)() as conn:
        events = pd.DataFrame(
            conn.execute(
                f"""SELECT e.cdr_type, e.msisdn, e.datetime::date AS day, r.admin3pcod, r.admin2pcod
                    FROM (SELECT 'calls' AS cdr_type, msisdn, datetime, location_id FROM events.calls
                          UNION ALL SELECT 'sms', msisdn, datetime, location_id FROM events.sms
                          UNION ALL SELECT 'mds', msisdn, datetime, location_id FROM events.mds
                          UNION ALL SELECT 'topups', msisdn, datetime, location_id FROM events.topups) e
                    JOIN ({CELL_REGIONS_SQL}) r ON r.cell_id = e.location_id"""
            ).fetchall(),
            columns=["cdr_type", "msisdn", "day", "admin3", "admin2"],
        )
    return config, report, events


def _modal_homes(events: pd.DataFrame) -> pd.Series:
    """Each subscriber's most frequent admin3 per day (their home, since most events happen there)."""
    counts = events.groupby(["msisdn", "day", "admin3"]).size().rename("n").reset_index()
    counts = counts.sort_values(
        ["msisdn", "day", "n", "admin3"], ascending=[True, True, False, True]
    )
    return counts.drop_duplicates(["msisdn", "day"]).set_index(["msisdn", "day"])["admin3"]


def test_row_counts_per_type_and_day(generated, db):
    config, report, _ = generated
    assert report.rows == {
        "calls": 7 * 40_000,
        "sms": 7 * 10_000,
        "mds": 7 * 5_000,
        "topups": 7 * 1_000,
    }
    per_day = db.execute(
        "SELECT datetime::date, count(*) FROM events.calls GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert per_day == [(day, 40_000) for day in config.dates]


def test_every_type_and_day_is_available(generated, db):
    config, _, _ = generated
    available = set(db.execute("SELECT cdr_type, cdr_date FROM etl.available_dates").fetchall())
    assert available == {(t, d) for t in ("calls", "sms", "mds", "topups") for d in config.dates}
    flags = dict((r[0], r[1:]) for r in db.execute("SELECT * FROM available_tables()").fetchall())
    assert flags["calls"] == (True, True, True)
    assert flags["mds"] == (True, True, False)


def test_every_day_has_the_default_qa_checks(generated, db):
    """FlowKit's synthetic image records the QA checks of what it made: 24/21/16/16 checks per type and day."""
    config, _, _ = generated
    per_day = db.execute(
        """SELECT cdr_type, cdr_date, count(*), max(outcome) FILTER (WHERE type_of_query_or_check = 'count_added_rows')
           FROM etl.deduped_post_etl_queries GROUP BY 1, 2"""
    ).fetchall()
    rows = {"calls": 40_000, "sms": 10_000, "mds": 5_000, "topups": 1_000}
    checks = {"calls": 24, "sms": 21, "mds": 16, "topups": 16}
    assert sorted(per_day) == sorted(
        (t, d, checks[t], str(rows[t])) for t in checks for d in config.dates
    )


def test_partitions_and_parents_have_statistics(generated, db):
    rows = db.execute(
        "SELECT tablename, inherited FROM pg_stats WHERE schemaname = 'events' AND attname = 'msisdn' "
        "AND tablename IN ('calls', 'calls_20160101')"
    ).fetchall()
    assert set(rows) == {("calls", True), ("calls_20160101", False)}


def test_out_of_home_share_matches_p_out_of_area(generated):
    config, _, events = generated
    homes = _modal_homes(events)
    at_home = events.set_index(["msisdn", "day"]).join(homes.rename("home"))
    share = (at_home["admin3"] != at_home["home"]).mean()
    assert share == pytest.approx(config.p_out_of_area, abs=0.015)


def test_relocation_rate_matches_p_relocate(generated):
    config, _, events = generated
    homes = _modal_homes(events).unstack("day")
    days = sorted(homes.columns)
    moved, observed = 0, 0
    for before, after in zip(days, days[1:], strict=False):
        if after == DISASTER_DAYS[0]:
            continue  # forced moves out of the disaster region
        pair = homes[[before, after]].dropna()
        moved += (pair[before] != pair[after]).sum()
        observed += len(pair)
    assert moved / observed == pytest.approx(config.p_relocate, abs=0.035)


def test_disaster_region_is_empty_during_the_window_and_its_residents_relocate(generated):
    config, _, events = generated
    region = config.disaster_region_pcod
    in_region = events[events["admin2"] == region]
    assert not in_region["day"].isin(DISASTER_DAYS).any()
    assert in_region["day"].nunique() == config.n_days - len(DISASTER_DAYS)
    homes = _modal_homes(events).unstack("day")
    admin2_of = events.drop_duplicates("admin3").set_index("admin3")["admin2"]
    before = homes[START + dt.timedelta(days=2)].map(admin2_of)
    residents = before[before == region].index
    assert len(residents) > 10
    during = homes.loc[residents, DISASTER_DAYS[0]].map(admin2_of)
    assert (during != region).all()


def test_calls_are_consistent_two_row_pairs(generated, db):
    bad = db.execute(
        """SELECT count(*) FROM (
               SELECT id FROM events.calls GROUP BY id
               HAVING count(*) <> 2 OR count(*) FILTER (WHERE outgoing) <> 1
                   OR count(DISTINCT datetime) <> 1 OR count(DISTINCT duration) <> 1) x"""
    ).fetchone()[0]
    assert bad == 0
    mirrored = db.execute(
        """SELECT count(*) FROM events.calls o JOIN events.calls i ON i.id = o.id AND NOT i.outgoing
           WHERE o.outgoing AND (o.msisdn <> i.msisdn_counterpart OR i.msisdn <> o.msisdn_counterpart)"""
    ).fetchone()[0]
    assert mirrored == 0
    assert (
        db.execute(
            "SELECT count(*) FROM events.calls WHERE msisdn = msisdn_counterpart"
        ).fetchone()[0]
        == 0
    )


def test_one_handset_per_subscriber_and_pairs_are_fixed(generated, db):
    config, _, _ = generated
    handsets = db.execute(
        """SELECT max(n) FROM (SELECT msisdn, count(DISTINCT (imei, imsi, tac)) AS n FROM (
               SELECT msisdn, imei, imsi, tac FROM events.calls
               UNION ALL SELECT msisdn, imei, imsi, tac FROM events.mds) e GROUP BY msisdn) x"""
    ).fetchone()[0]
    assert handsets == 1
    pairs = db.execute(
        "SELECT count(DISTINCT (msisdn, msisdn_counterpart)) FROM events.calls WHERE outgoing"
    ).fetchone()[0]
    assert pairs <= config.interactions_multiplier * config.n_subscribers
    assert (
        db.execute(
            "SELECT count(*) FROM events.topups WHERE post_event_balance <> "
            "pre_event_balance + recharge_amount - tax_and_fee"
        ).fetchone()[0]
        == 0
    )


@pytest.mark.parametrize("native", [False, True], ids=["sql-expressions", "native"])
def test_same_seeds_give_the_same_rows(cluster, native_library, native):
    config = small_config(n_days=2, n_calls=3000, n_sms=0, n_mds=500, n_topups=0)
    digests = []
    for _ in range(2):
        generate(_connect(cluster), config, native_library=native_library if native else None)
        with _connect(cluster)() as conn:
            digests.append(
                conn.execute(
                    "SELECT md5(string_agg(c::text, '|' ORDER BY c::text)) FROM events.calls c"
                ).fetchone()[0]
            )
    assert digests[0] == digests[1]


def test_an_unknown_disaster_region_is_refused_and_leaves_no_events(cluster, db):
    config = small_config(
        n_days=2, disaster_region_pcod="NOWHERE", disaster_start=START, disaster_end=START
    )
    with pytest.raises(FlowDBError, match="DISASTER_REGION_PCOD 'NOWHERE' is not an admin2 pcod"):
        generate(_connect(cluster), config)
    assert db.execute("SELECT count(*) FROM events.calls").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM etl.etl_records").fetchone()[0] == 0


def _contents(conn: psycopg.Connection) -> dict[str, tuple[int, str]]:
    """Row count and digest of every events table and of events.location_ids."""
    tables = ("calls", "sms", "mds", "topups", "location_ids")
    return {
        table: conn.execute(
            f"SELECT count(*), md5(string_agg(t::text, '|' ORDER BY t::text)) FROM events.{table} t"
        ).fetchone()
        for table in tables
    }


def test_native_rows_equal_the_sql_expressions_rows(cluster, native_library):
    """Both paths of the SQL generator write the same rows, byte for byte as text (numeric scales
    included), disaster window and relocation included; and the native path's partitions end up with the
    same constraints, checked."""
    region = _disaster_region(cluster)
    config = small_config(
        n_days=5,
        p_out_of_area=0.3,
        p_relocate=0.2,
        disaster_region_pcod=region,
        disaster_start=DISASTER_DAYS[0],
        disaster_end=DISASTER_DAYS[1],
    )
    contents = []
    for library in (None, native_library):
        generate(_connect(cluster), config, native_library=library)
        with _connect(cluster)() as conn:
            contents.append(_contents(conn))
            constraints = conn.execute(
                """SELECT c.relname, a.attname, a.attnotnull
                   FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                   JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname IN ('datetime', 'msisdn')
                   WHERE i.inhparent = 'events.calls'::regclass"""
            ).fetchall()
            checks = conn.execute(
                """SELECT count(*) FROM pg_constraint k JOIN pg_inherits i ON i.inhrelid = k.conrelid
                   WHERE i.inhparent = 'events.calls'::regclass AND k.contype = 'c' AND k.convalidated"""
            ).fetchone()[0]
        assert len(constraints) == 2 * config.n_days and all(nn for _, _, nn in constraints)
        assert checks == config.n_days
    expressions, native = contents
    assert expressions["calls"][0] == 2 * config.n_calls * config.n_days
    assert expressions["location_ids"][0] > 0
    assert native == expressions


def test_native_days_are_written_frozen(cluster, native_library):
    """Each day's staging table is created in the transaction that fills it, so the native function writes
    it frozen: every page is all-visible before any VACUUM (run.generate's final VACUUM has nothing to do)."""
    config = small_config(n_days=2, n_calls=3000, n_sms=0, n_mds=500, n_topups=100)
    generate(_connect(cluster), config, native_library=native_library)  # the world
    generate_sql(_connect(cluster), config, CELL_REGIONS_SQL, native_library=native_library)
    with _connect(cluster)() as conn:
        for cdr_type in ("calls", "mds", "topups"):
            table = f"events.{cdr_type}_{START:%Y%m%d}"
            pages, visible = visible_pages(conn, table)
            assert pages > 0 and visible == pages, (table, pages, visible)
