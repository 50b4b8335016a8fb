"""FlowKit's schema and the least-privilege roles, checked against the live session cluster."""

import dataclasses
import datetime as dt

import psycopg
import pytest
from psycopg import sql

from flowdb import roles
from flowdb.synthetic.loading import day_partition
from flowdb.testing import connect_as

EXPECTED_TABLES = {
    "events": {"calls", "sms", "mds", "topups", "forwards", "location_ids"},
    "infrastructure": {"sites", "cells", "tacs"},
    "geography": {"admin0", "admin1", "admin2", "admin3"},
    "etl": {"etl_records", "post_etl_queries"},
    "cache": {"cached", "dependencies", "cache_config"},
    "public": {"flowdb_version", "location_table", "available_tables", "schema_migrations"},
}


def test_schemas_and_tables_exist(db):
    for schema, tables in EXPECTED_TABLES.items():
        rows = db.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s "
            "UNION SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind = 'p'",
            (schema, schema),
        ).fetchall()
        assert tables <= {r[0] for r in rows}, schema


def test_event_tables_are_partitioned_by_day_on_datetime(db):
    for cdr_type in ("calls", "sms", "mds", "topups", "forwards"):
        strategy, key = db.execute(
            """SELECT p.partstrat, pg_get_partkeydef(p.partrelid) FROM pg_partitioned_table p
               WHERE p.partrelid = %s::regclass""",
            (f"events.{cdr_type}",),
        ).fetchone()
        assert strategy == "r"
        assert key == "RANGE (datetime)"


def test_geometry_columns_are_4326(db):
    rows = db.execute(
        "SELECT f_table_schema, f_table_name, f_geometry_column, srid FROM geometry_columns "
        "WHERE f_table_schema IN ('infrastructure', 'geography')"
    ).fetchall()
    assert len(rows) == 8
    assert {r[3] for r in rows} == {4326}


def test_postgis_and_flowkit_functions(db):
    assert db.execute("SELECT postgis_lib_version()").fetchone()[0].startswith("3.")
    assert (
        db.execute("SELECT location_table FROM location_table()").fetchone()[0]
        == "infrastructure.cells"
    )
    assert db.execute("SELECT median(x) FROM unnest(ARRAY[5, 1, 3, 2]) x").fetchone()[0] == 2.5
    assert db.execute("SELECT median(x) FROM unnest(ARRAY[5, 1, NULL, 3]) x").fetchone()[0] == 3
    assert db.execute("SELECT isnumeric('1.5'), isnumeric('x')").fetchone() == (True, False)
    first = db.execute("SELECT array_agg(i) FROM random_ints(0.3, 5, 100) i").fetchone()[0]
    again = db.execute("SELECT array_agg(i) FROM random_ints(0.3, 5, 100) i").fetchone()[0]
    assert first == again and len(set(first)) == 5 and all(1 <= i <= 100 for i in first)
    draws = db.execute("SELECT avg(random_poisson(4.0)) FROM generate_series(1, 4000)").fetchone()[
        0
    ]
    assert 3.7 < float(draws) < 4.3
    assert db.execute("SELECT random_pick(ARRAY[NULL, 7, NULL])").fetchone()[0] == 7
    assert db.execute("SELECT random_pick(ARRAY[]::int[])").fetchone()[0] is None


def test_cache_config_comes_from_the_environment(db):
    config = dict(db.execute("SELECT key, value FROM cache.cache_config").fetchall())
    assert config["half_life"] == "1000"
    assert config["cache_protected_period"] == "86400"
    assert int(config["cache_size"]) > 0
    assert db.execute("SELECT cache_half_life(), cache_protected_period()").fetchone() == (
        1000,
        86400,
    )


def test_touch_cache_scores_and_counts(db):
    db.execute("DELETE FROM cache.cached WHERE query_id = 'touchtest'")
    db.execute(
        "INSERT INTO cache.cached (query_id, class, schema, tablename, compute_time, cache_score_multiplier, "
        "access_count) VALUES ('touchtest', 'Query', 'cache', 'xtouchtest', 2000, 0, 0)"
    )
    score = db.execute("SELECT touch_cache('touchtest')").fetchone()[0]
    assert score > 0
    assert (
        db.execute("SELECT access_count FROM cache.cached WHERE query_id = 'touchtest'").fetchone()[
            0
        ]
        == 1
    )
    with pytest.raises(psycopg.errors.RaiseException):
        db.execute("SELECT touch_cache('no-such-query')")
    db.execute("DELETE FROM cache.cached WHERE query_id = 'touchtest'")


@pytest.fixture
def one_day_of_calls(db):
    day = dt.date(2031, 5, 1)
    with day_partition(db, "calls", day) as table:
        db.execute(
            sql.SQL(
                "INSERT INTO {} (id, outgoing, datetime, duration, msisdn, msisdn_counterpart, location_id) "
                "VALUES ('c1', true, '2031-05-01 10:00+00', 10, 'A', 'B', 'cell1'), "
                "       ('c1', false, '2031-05-01 10:00+00', 10, 'B', 'A', 'cell2')"
            ).format(table)
        )
    yield day
    db.execute("DROP TABLE IF EXISTS events.calls_20310501")
    db.execute("DELETE FROM etl.etl_records WHERE cdr_date = %s", (day,))
    db.execute("DELETE FROM events.location_ids WHERE location_id IN ('cell1', 'cell2')")


def test_day_partition_is_attached_indexed_and_recorded(db, one_day_of_calls):
    bound = db.execute(
        "SELECT pg_get_expr(c.relpartbound, c.oid) FROM pg_class c WHERE c.oid = 'events.calls_20310501'::regclass"
    ).fetchone()[0]
    assert bound == "FOR VALUES FROM ('2031-05-01 00:00:00+00') TO ('2031-05-02 00:00:00+00')"
    indexes = {
        r[0]
        for r in db.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = 'events' AND tablename = 'calls_20310501'"
        ).fetchall()
    }
    assert indexes == {
        f"calls_20310501_{c}_idx"
        for c in ("msisdn", "msisdn_counterpart", "location_id", "datetime", "tac")
    }
    # the msisdn index keeps each subscriber's events in time order (index-only last/first locations)
    keys = db.execute(
        "SELECT pg_get_indexdef('events.calls_20310501_msisdn_idx'::regclass)"
    ).fetchone()[0]
    assert keys.endswith("(msisdn, datetime, location_id)")
    # VACUUMed after the load: the visibility map is set, so index-only scans skip the heap
    assert (
        db.execute(
            "SELECT relallvisible = relpages AND relpages > 0 FROM pg_class "
            "WHERE oid = 'events.calls_20310501'::regclass"
        ).fetchone()[0]
        is True
    )
    assert (
        db.execute(
            "SELECT count(*) FROM etl.available_dates WHERE cdr_type = 'calls' AND cdr_date = %s",
            (one_day_of_calls,),
        ).fetchone()[0]
        == 1
    )
    assert db.execute(
        "SELECT has_locations, has_subscribers, has_counterparts FROM available_tables() WHERE table_name = 'calls'"
    ).fetchone() == (True, True, True)
    assert (
        db.execute(
            "SELECT count(*) FROM events.location_ids WHERE location_id IN ('cell1', 'cell2')"
        ).fetchone()[0]
        == 2
    )


def test_reloading_a_day_replaces_it_and_the_latest_state_wins(db, one_day_of_calls):
    with day_partition(db, "calls", one_day_of_calls) as table:
        db.execute(
            sql.SQL(
                "INSERT INTO {} (id, outgoing, datetime, msisdn) VALUES ('c9', true, '2031-05-01 23:59:59+00', 'Z')"
            ).format(table)
        )
    assert db.execute("SELECT count(*) FROM events.calls_20310501").fetchone()[0] == 1
    db.execute(
        "INSERT INTO etl.etl_records (cdr_type, cdr_date, state, timestamp) "
        "VALUES ('calls', %s, 'quarantined', now() + interval '1 second')",
        (one_day_of_calls,),
    )
    assert (
        db.execute(
            "SELECT count(*) FROM etl.available_dates WHERE cdr_date = %s", (one_day_of_calls,)
        ).fetchone()[0]
        == 0
    )


def test_day_partition_rejects_rows_outside_the_day_and_rolls_back(db):
    day = dt.date(2031, 6, 1)
    with pytest.raises(psycopg.errors.CheckViolation), day_partition(db, "calls", day) as table:
        db.execute(
            sql.SQL(
                "INSERT INTO {} (datetime, msisdn) VALUES ('2031-06-02 00:00:00+00', 'A')"
            ).format(table)
        )
    assert db.execute("SELECT to_regclass('events.calls_20310601')").fetchone()[0] is None
    assert (
        db.execute("SELECT count(*) FROM etl.etl_records WHERE cdr_date = %s", (day,)).fetchone()[0]
        == 0
    )


def test_flowapi_reads_only_cache_results_and_geography(cluster, db, one_day_of_calls):
    db.execute("DROP TABLE IF EXISTS cache.xprivtest")
    with connect_as(cluster, "flowmachine") as fm:
        assert fm.execute("SELECT count(*) FROM events.calls").fetchone()[0] >= 2
        assert fm.execute("SELECT count(*) FROM events.calls_20310501").fetchone()[0] >= 1
        fm.execute("CREATE TABLE cache.xprivtest AS SELECT 1 AS n")
        fm.execute("SELECT count(*) FROM cache.cached")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            fm.execute("DROP TABLE events.calls")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            fm.execute("CREATE TABLE events.evil (n int)")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            fm.execute("DROP TABLE cache.cached")
    with connect_as(cluster, cluster.settings.flowapi_user) as api:
        assert api.execute("SELECT n FROM cache.xprivtest").fetchone()[0] == 1
        api.execute("SELECT count(*) FROM geography.admin3")
        for forbidden in (
            "SELECT count(*) FROM events.calls",
            "SELECT count(*) FROM events.calls_20310501",
            "SELECT count(*) FROM infrastructure.cells",
            "SELECT count(*) FROM etl.etl_records",
            "SELECT count(*) FROM cache.cached",
            "SELECT count(*) FROM cache.dependencies",
            "DROP TABLE cache.xprivtest",
            "CREATE TABLE public.api_table (n int)",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                api.execute(forbidden)
    owner = db.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'xprivtest'").fetchone()[
        0
    ]
    assert owner == "flowmachine"
    db.execute("DROP TABLE cache.xprivtest")


def test_tables_created_in_cache_by_the_superuser_belong_to_flowmachine(cluster, db):
    db.execute("DROP TABLE IF EXISTS cache.xbysuper")
    db.execute("CREATE TABLE cache.xbysuper AS SELECT 1 AS n")
    assert (
        db.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'xbysuper'").fetchone()[0]
        == "flowmachine"
    )
    with connect_as(cluster, "flowmachine") as fm:
        fm.execute("DROP TABLE cache.xbysuper")


def test_flowmachine_sessions_have_bounded_temp_files_and_time(cluster):
    expected = roles.flowmachine_limits(cluster.settings)
    assert expected["statement_timeout"] == "3600s"
    assert expected["temp_file_limit"].endswith("MB")
    with connect_as(cluster, "flowmachine") as fm:
        shown = dict(
            fm.execute(
                "SELECT name, setting || coalesce(unit, '') FROM pg_settings "
                "WHERE name IN ('temp_file_limit', 'statement_timeout')"
            ).fetchall()
        )
    assert shown["statement_timeout"] == "3600000ms"
    # the default follows the free disk, which other processes change between the start and now
    applied_kb = int(shown["temp_file_limit"].removesuffix("kB"))
    expected_kb = int(expected["temp_file_limit"].removesuffix("MB")) * 1024
    assert abs(applied_kb - expected_kb) <= expected_kb * 0.05


def test_a_statement_over_the_temp_file_limit_fails_instead_of_filling_the_disk(cluster, db):
    small = dataclasses.replace(
        cluster.settings, flowmachine_temp_file_limit="1MB", flowmachine_statement_timeout=1
    )
    roles.reconcile(db, small)  # as `flowdb start` does, here with small limits
    try:
        with connect_as(cluster, "flowmachine") as fm:
            fm.execute("SET work_mem = '64kB'")
            fm.execute("SET max_parallel_workers_per_gather = 0")
            with pytest.raises(psycopg.errors.ConfigurationLimitExceeded, match="temp_file_limit"):
                fm.execute(
                    "SELECT count(*) FROM (SELECT g FROM generate_series(1, 1000000) g ORDER BY g DESC) s"
                )
            with pytest.raises(psycopg.errors.QueryCanceled, match="statement timeout"):
                fm.execute("SELECT pg_sleep(3)")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                fm.execute("SET temp_file_limit = -1")  # FlowMachine cannot lift it
    finally:
        roles.reconcile(db, cluster.settings)
    with connect_as(cluster, "flowmachine") as fm:
        assert fm.execute("SHOW statement_timeout").fetchone()[0] == "1h"


def test_roles_cannot_connect_with_a_wrong_password(cluster):
    port = cluster.status().port
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(
            host="127.0.0.1", port=port, user="flowapi", password="wrong", dbname="flowdb"
        )


def test_server_settings_follow_the_tuning(db):
    settings = dict(
        db.execute(
            "SELECT name, setting FROM pg_settings WHERE name IN ('listen_addresses', 'max_parallel_workers_per_gather', "
            "'shared_buffers', 'wal_level', 'TimeZone', 'max_locks_per_transaction')"
        ).fetchall()
    )
    assert settings["listen_addresses"] == "127.0.0.1"
    assert settings["wal_level"] == "minimal"
    assert settings["TimeZone"] == "UTC"
    assert settings["shared_buffers"] == str(256 * 1024 // 8)  # 256MB in 8 kB pages
    assert int(settings["max_parallel_workers_per_gather"]) >= 1
    assert settings["max_locks_per_transaction"] == "36500"


def test_concurrent_replacement_of_days_of_one_type_does_not_deadlock(cluster, db):
    import threading

    days = [dt.date(2031, 7, 1), dt.date(2031, 7, 2)]

    def load(conn, day, pause=0.0):
        with day_partition(conn, "sms", day, indexes=("msisdn",)) as table:
            conn.execute(
                sql.SQL("INSERT INTO {} (datetime, msisdn) VALUES (%s, 'A')").format(table),
                (dt.datetime(day.year, day.month, day.day, 12, tzinfo=dt.UTC),),
            )
            # Without serialisation both transactions would hold the parent here and then both wait to drop.
            conn.execute("SELECT pg_sleep(%s)", (pause,))

    for day in days:
        load(db, day)
    errors: list[BaseException] = []

    def worker(day):
        try:
            with cluster.connect() as conn:
                load(conn, day, pause=1.0)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(day,)) for day in days]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    try:
        assert errors == []
        counts = db.execute(
            "SELECT count(*) FROM events.sms WHERE datetime >= '2031-07-01' AND datetime < '2031-07-03'"
        ).fetchone()[0]
        assert counts == 2
    finally:
        for day in days:
            db.execute(
                sql.SQL("DROP TABLE IF EXISTS {}").format(
                    sql.Identifier("events", f"sms_{day:%Y%m%d}")
                )
            )
        db.execute("DELETE FROM etl.etl_records WHERE cdr_date = ANY(%s)", (days,))


def test_slow_statements_are_logged_without_their_parameters(cluster, db):
    """A slow statement's log line must not carry its bound values (they may be an individual's data, or
    a loader's whole array)."""
    assert db.execute("SHOW log_parameter_max_length").fetchone()[0] == "0"
    marker = "subscriber-0123456789abcdef"
    db.execute(
        "SELECT pg_sleep(0.3), %s::text", (marker,)
    )  # over log_min_duration_statement (250 ms)
    logs = cluster.logfile.read_bytes()
    assert b"pg_sleep(0.3)" in logs  # the slow statement is logged ...
    assert marker.encode() not in logs  # ... without the value bound to it
