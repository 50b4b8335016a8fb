"""End to end on a real FlowDB, as FlowETL's own role: each source kind, reloads, failures, bad rows."""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path

import psycopg
import pytest

from etl_helpers import CALLS_FIELDS, calls_rows, config_for, write_csv
from flowetl import errors
from flowetl.errors import DataNotPresent, InFlux, MalformedInput
from flowetl.pipeline import load_day


def file_config(landing: Path, fmt: str = "csv", **file_extra) -> dict:
    return {
        "source": {
            "file": {
                "path": str(landing / ("{{ cdr_type }}_{{ ds_nodash }}." + fmt)),
                "format": fmt,
                "fields": CALLS_FIELDS,
                **file_extra,
            }
        }
    }


def state(su: psycopg.Connection, cdr_type: str, day: dt.date) -> tuple:
    latest = su.execute(
        "SELECT state, detail FROM etl.etl_records WHERE cdr_type = %s AND cdr_date = %s ORDER BY id DESC LIMIT 1",
        (cdr_type, day),
    ).fetchone()
    available = su.execute(
        "SELECT count(*) FROM etl.available_dates WHERE cdr_type = %s AND cdr_date = %s",
        (cdr_type, day),
    ).fetchone()[0]
    return latest, bool(available)


def partition_rows(su: psycopg.Connection, cdr_type: str, day: dt.date) -> int | None:
    name = f"events.{cdr_type}_{day:%Y%m%d}"
    if su.execute("SELECT to_regclass(%s)", (name,)).fetchone()[0] is None:
        return None
    attached = su.execute(
        "SELECT count(*) FROM pg_inherits WHERE inhrelid = %s::regclass AND inhparent = %s::regclass",
        (name, f"events.{cdr_type}"),
    ).fetchone()[0]
    assert attached == 1, f"{name} exists but is not attached"
    return su.execute(f"SELECT count(*) FROM {name}").fetchone()[0]


def stray_etl_tables(su: psycopg.Connection) -> list[str]:
    rows = su.execute(
        """SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'etl' AND c.relkind IN ('r', 'v', 'f', 'p')
             AND (relname LIKE 'extract\\_%' OR relname LIKE 'stg\\_%')"""
    ).fetchall()
    return [r[0] for r in rows]


def quarantined(su: psycopg.Connection, cdr_type: str, day: dt.date) -> list[tuple]:
    return su.execute(
        "SELECT reason, row_number, detail, raw FROM etl.quarantine WHERE cdr_type = %s AND cdr_date = %s ORDER BY id",
        (cdr_type, day),
    ).fetchall()


def test_a_reload_waits_for_analysts_queries_without_blocking_others(
    cluster, etl, su, landing
) -> None:
    """Replacing a day needs events.calls exclusively: while a reader holds it, the attach gives way (lock
    timeout, pause, again) instead of queueing every new query behind it; if the reader outlasts the retry
    window the reload fails, recorded, and the old partition stays."""
    from flowetl import attach

    day = dt.date(2016, 2, 6)
    header = list(CALLS_FIELDS)
    path = write_csv(landing / "calls_20160206.csv", calls_rows(day, 20), header=header)
    config = config_for("calls", file_config(landing)).source("calls")
    load_day(etl, config, day)
    write_csv(path, calls_rows(day, 30, tag="b"), header=header)

    reader = cluster.connect()
    reader.autocommit = False
    reader.execute("SELECT count(*) FROM events.calls")  # an analyst's query, still open
    pauses: list[float] = []

    def analyst_finishes(seconds: float) -> None:
        pauses.append(seconds)
        # Meanwhile another analyst's query of events.calls is not held up by the waiting reload.
        assert su.execute("SELECT count(*) FROM events.calls_20160206").fetchone()[0] == 20
        reader.commit()

    def steps(retry_seconds: float, sleep):  # the pipeline's steps, with the attach step's knobs
        def run(name, step):
            if name == "attach":
                return attach.attach(etl, config, day, retry_seconds=retry_seconds, sleep=sleep)
            return step()

        return run

    load_day(etl, config, day, run_step=steps(60, analyst_finishes))
    assert pauses == [attach.ATTACH_RETRY_PAUSE]
    assert partition_rows(su, "calls", day) == 30

    reader.execute("SELECT count(*) FROM events.calls")  # a query that outlasts the retry window
    write_csv(path, calls_rows(day, 40, tag="c"), header=header)
    with pytest.raises(attach.ParentBusy):
        load_day(etl, config, day, run_step=steps(0, pauses.append))
    reader.close()
    assert partition_rows(su, "calls", day) == 30
    (latest_state, detail), available = state(su, "calls", day)
    assert latest_state == "failed" and detail.startswith("attach: events table busy") and available
    assert stray_etl_tables(su) == []


def test_default_checks_run_beside_the_indexes_and_stop_with_a_failed_load(
    etl, su, landing
) -> None:
    """FlowKit's default checks are computed on a second connection from the end of `cluster` (flowetl.
    early_checks): a load that fails later stops them before its cleanup, leaving no connection or table."""
    from flowetl.pipeline import run_directly

    day = dt.date(2016, 2, 7)
    write_csv(landing / "calls_20160207.csv", calls_rows(day, 40), header=list(CALLS_FIELDS))
    config = config_for("calls", file_config(landing)).source("calls")

    def fail_at_analyze(name, step):
        if name == "analyze":
            raise psycopg.errors.QueryCanceled("the operator stopped it")
        return run_directly(name, step)

    with pytest.raises(errors.LoadFailed, match="analyze: error"):
        load_day(etl, config, day, run_step=fail_at_analyze)
    assert stray_etl_tables(su) == []
    assert (
        su.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'flowetl-qa'"
        ).fetchone()[0]
        == 0
    )
    assert partition_rows(su, "calls", day) is None
    # A load that succeeds records them, as computed on the extract table.
    result = load_day(etl, config, day)
    assert "early_qa_wait" in result.seconds
    added = su.execute(
        "SELECT outcome FROM etl.deduped_post_etl_queries WHERE cdr_type = 'calls' AND cdr_date = %s "
        "AND type_of_query_or_check = 'count_added_rows'",
        (day,),
    ).fetchone()[0]
    assert added == "40"


def test_csv_end_to_end_as_the_flowetl_role(etl, su, landing) -> None:
    day = dt.date(2016, 2, 1)
    header = list(CALLS_FIELDS)
    write_csv(landing / "calls_20160201.csv", calls_rows(day, 50), header=header)
    config = config_for("calls", {**file_config(landing), "cluster_field": "msisdn"}).source(
        "calls"
    )
    assert config.direct_copy
    result = load_day(etl, config, day)
    assert result.rows == 50
    assert partition_rows(su, "calls", day) == 50
    assert state(su, "calls", day) == (("ingested", None), True)
    # FlowKit's indexes (and the cluster one), named <table>_<col>_idx
    indexes = {r[0] for r in su.execute(
        "SELECT indexname FROM pg_indexes WHERE schemaname = 'events' AND tablename = 'calls_20160201'"
    )}  # fmt: skip
    assert indexes == {
        f"calls_20160201_{c}_idx"
        for c in ("msisdn", "msisdn_counterpart", "location_id", "datetime", "tac")
    }
    assert su.execute(
        "SELECT has_locations, has_subscribers, has_counterparts FROM available_tables WHERE table_name = 'calls'"
    ).fetchone() == (True, True, True)
    assert (
        su.execute(
            "SELECT count(*), min(first_active_date), max(last_active_date) FROM events.location_ids WHERE cdr_type = 'calls' AND location_id LIKE 'cell%%'"
        ).fetchone()[0]
        == 3
    )
    # The partition belongs to events_owner and FlowMachine can read it; FlowETL's role is no superuser.
    assert (
        su.execute(
            "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'events.calls_20160201'::regclass"
        ).fetchone()[0]
        == "events_owner"
    )
    assert su.execute(
        "SELECT has_table_privilege('flowmachine', 'events.calls_20160201', 'SELECT')"
    ).fetchone()[0]
    assert not su.execute("SELECT rolsuper FROM pg_roles WHERE rolname = 'flowetl'").fetchone()[0]
    assert stray_etl_tables(su) == []


def test_csv_gz_with_extract_sql_and_options(etl, su, landing) -> None:
    day = dt.date(2016, 2, 2)
    rows = [[r[4], r[2], r[6], "Undefined"] for r in calls_rows(day, 40)]
    rows[3][2] = "Undefined"  # the null string
    write_csv(
        landing / "sms_20160202.csv.gz",
        [[";".join(r)] for r in rows],
        header=["msisdn;event_time;cell_id;imei"],
    )
    spec = {
        "source": {
            "file": {
                "path": str(landing / "{{ cdr_type }}_{{ ds_nodash }}.csv.gz"),
                "fields": {
                    "msisdn": "TEXT",
                    "event_time": "TIMESTAMPTZ",
                    "cell_id": "TEXT",
                    "imei": "TEXT",
                },
                "delimiter": ";",
                "null": "Undefined",
            }
        },
        "extract_sql": """SELECT NULL::text, NULL::boolean, event_time, NULL::text, msisdn, NULL::text, cell_id,
                                 NULL::text, imei, NULL::numeric, NULL::numeric, NULL::numeric
                          FROM {{ staging_table }}""",
    }
    result = load_day(etl, config_for("sms", spec).source("sms"), day)
    assert result.rows == 40
    assert partition_rows(su, "sms", day) == 40
    assert su.execute(
        "SELECT count(*) FILTER (WHERE location_id IS NULL), count(imei) FROM events.sms_20160202"
    ).fetchone() == (1, 0)
    assert stray_etl_tables(su) == []


def test_parquet_with_a_column_mapping(etl, su, landing) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    day = dt.date(2016, 2, 3)
    start = dt.datetime(2016, 2, 3, tzinfo=dt.UTC)
    table = pa.table(
        {
            "subscriber": [f"m{i}" for i in range(30)],
            # nanosecond timestamps, as pandas writes them
            "ts": pa.array(
                [start + dt.timedelta(minutes=i) for i in range(30)], pa.timestamp("ns", tz="UTC")
            ),
            "mb": [float(i) / 3 for i in range(30)],
            "cell": [None if i == 5 else f"cell{i % 4}" for i in range(30)],
            "unused": list(range(30)),
        }
    )
    pq.write_table(table, landing / "mds_20160203.parquet")
    spec = {
        "source": {
            "file": {
                "path": str(landing / "{{ cdr_type }}_{{ ds_nodash }}.parquet"),
                "fields": {
                    "subscriber": "TEXT",
                    "ts": "TIMESTAMPTZ",
                    "mb": "NUMERIC",
                    "cell": "TEXT",
                },
            }
        },
        "columns": {
            "msisdn": "subscriber",
            "datetime": "ts",
            "volume_total": "mb",
            "location_id": "cell",
        },
    }
    load_day(etl, config_for("mds", spec).source("mds"), day)
    assert su.execute(
        "SELECT count(*), count(location_id), min(datetime), max(datetime), round(sum(volume_total), 3) FROM events.mds_20160203"
    ).fetchone() == (
        30,
        29,
        start,
        start + dt.timedelta(minutes=29),
        round(sum(i / 3 for i in range(30)), 3),
    )


def test_table_mode_from_a_local_table(etl, su) -> None:
    day = dt.date(2016, 2, 4)
    su.execute("DROP TABLE IF EXISTS public.operator_topups")
    su.execute("CREATE TABLE public.operator_topups (sub TEXT, at TIMESTAMPTZ, amount NUMERIC)")
    su.execute(
        """INSERT INTO public.operator_topups
           SELECT 'm' || i, '2016-02-03 22:00+00'::timestamptz + i * interval '10 minutes', i FROM generate_series(0, 59) i"""
    )
    su.execute("GRANT SELECT ON public.operator_topups TO flowetl")
    spec = {
        "source": {
            "table": {
                "source_table": "public.operator_topups",
                "staging_view_sql": """SELECT sub AS msisdn, at AS datetime, amount AS recharge_amount
                    FROM {{ source_table }} WHERE at >= '{{ ds }}' AND at < '{{ tomorrow_ds }}'""",
            }
        },
    }
    load_day(etl, config_for("topups", spec).source("topups"), day)
    # 22:00 + 10 min steps: 12 rows before midnight, 48 on the day
    assert partition_rows(su, "topups", day) == 48
    assert stray_etl_tables(su) == []


def test_a_reload_replaces_the_day_and_a_failed_reload_keeps_it(etl, su, landing) -> None:
    day = dt.date(2016, 2, 5)
    header = list(CALLS_FIELDS)
    path = write_csv(landing / "calls_20160205.csv", calls_rows(day, 20), header=header)
    config = config_for("calls", file_config(landing)).source("calls")
    load_day(etl, config, day)
    write_csv(path, calls_rows(day, 25, tag="b"), header=header)
    load_day(etl, config, day)
    assert partition_rows(su, "calls", day) == 25
    assert (
        su.execute("SELECT count(*) FROM events.calls_20160205 WHERE id LIKE 'b%%'").fetchone()[0]
        == 25
    )
    # Re-running is idempotent: the same file gives the same partition.
    load_day(etl, config, day)
    assert partition_rows(su, "calls", day) == 25
    # A broken file: the reload fails, the previous partition and available date stay.
    rows = calls_rows(day, 25, tag="c")
    rows[7][2] = "not a time"
    write_csv(path, rows, header=header)
    with pytest.raises(MalformedInput) as info:
        load_day(etl, config, day)
    assert info.value.reason == errors.UNPARSABLE and info.value.row_number == 8
    assert partition_rows(su, "calls", day) == 25
    assert (
        su.execute("SELECT count(*) FROM events.calls_20160205 WHERE id LIKE 'b%%'").fetchone()[0]
        == 25
    )
    (latest_state, detail), available = state(su, "calls", day)
    assert latest_state == "failed" and "not a time" in detail and available
    assert (
        su.execute(
            "SELECT state FROM etl.ingest_state WHERE cdr_type = 'calls' AND cdr_date = %s", (day,)
        ).fetchone()[0]
        == "failed"
    )
    reason, row_number, _, raw = quarantined(su, "calls", day)[-1]
    assert (reason, row_number) == (errors.UNPARSABLE, 8) and "not a time" in raw
    assert stray_etl_tables(su) == []


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("missing_column", errors.WRONG_COLUMNS),
        ("wrong_header", errors.WRONG_COLUMNS),
        ("extra_column", errors.WRONG_COLUMNS),
        ("unparsable_timestamp", errors.UNPARSABLE),
        ("outside_day", errors.TOO_MANY_BAD_ROWS),
        ("null_msisdn", errors.TOO_MANY_BAD_ROWS),
        ("truncated_gzip", errors.TRUNCATED),
        ("empty_file", errors.EMPTY),
        ("header_only", errors.EMPTY),
        ("no_file", "data not present"),
    ],
)
def test_malformed_input_fails_the_day_with_a_quarantine_record(
    etl, su, landing, case, reason
) -> None:
    day = dt.date(2016, 3, 1) + dt.timedelta(days=[
        "missing_column", "wrong_header", "extra_column", "unparsable_timestamp", "outside_day", "null_msisdn",
        "truncated_gzip", "empty_file", "header_only", "no_file"].index(case))  # fmt: skip
    header = list(CALLS_FIELDS)
    rows = calls_rows(day, 10)
    fmt = "csv"
    path = landing / f"calls_{day:%Y%m%d}.csv"
    if case == "missing_column":
        write_csv(path, [r[:-1] for r in rows])
    elif case == "wrong_header":
        write_csv(path, rows, header=header[:-1] + ["cell_id"])
    elif case == "extra_column":
        write_csv(path, [*rows[:4], rows[4] + ["x"], *rows[5:]])
    elif case == "unparsable_timestamp":
        rows[2][2] = "2016-13-45 99:00"
        write_csv(path, rows, header=header)
    elif case == "outside_day":
        rows[3][2] = f"{day - dt.timedelta(days=1)} 23:59:00+00"
        write_csv(path, rows, header=header)
    elif case == "null_msisdn":
        rows[6][4] = ""
        write_csv(path, rows, header=header)
    elif case == "truncated_gzip":
        fmt = "csv.gz"
        path = landing / f"calls_{day:%Y%m%d}.csv.gz"
        data = gzip.compress(
            ("\n".join(",".join(r) for r in calls_rows(day, 2000)) + "\n").encode()
        )
        path.write_bytes(data[: len(data) // 2])
    elif case == "empty_file":
        path.write_bytes(b"")
    elif case == "header_only":
        write_csv(path, [], header=header)
    header_flag = case not in ("missing_column", "extra_column", "truncated_gzip")
    config = config_for("calls", file_config(landing, fmt, header=header_flag)).source("calls")
    with pytest.raises((MalformedInput, DataNotPresent)) as info:
        load_day(etl, config, day)
    assert info.value.reason == reason, str(info.value)
    assert partition_rows(su, "calls", day) is None
    (latest_state, detail), available = state(su, "calls", day)
    assert latest_state == "failed" and reason in detail and not available
    records = quarantined(su, "calls", day)
    assert records and records[-1][0] == reason
    if case == "outside_day":
        assert records[0][:2] == (errors.OUTSIDE_DAY, 4) and "is not in" in records[0][2]
    if case == "null_msisdn":
        assert records[0][:2] == (errors.NULL_MSISDN, 7) and '"id": "a6"' in records[0][3]
    if case in ("missing_column", "extra_column"):
        assert records[-1][1] == (1 if case == "missing_column" else 5)
    assert stray_etl_tables(su) == []


def test_bad_rows_up_to_the_threshold_are_set_aside(etl, su, landing) -> None:
    day = dt.date(2016, 2, 6)
    rows = calls_rows(day, 30)
    rows[0][4] = ""
    rows[9][2] = "2016-02-07 00:00:00+00"
    write_csv(landing / "calls_20160206.csv", rows, header=list(CALLS_FIELDS))
    config = config_for("calls", {**file_config(landing), "max_bad_rows": 2}).source("calls")
    result = load_day(etl, config, day)
    assert result.set_aside == {errors.NULL_MSISDN: 1, errors.OUTSIDE_DAY: 1} and result.rows == 28
    assert partition_rows(su, "calls", day) == 28
    assert [r[:2] for r in quarantined(su, "calls", day)] == [
        (errors.NULL_MSISDN, 1),
        (errors.OUTSIDE_DAY, 10),
    ]
    assert state(su, "calls", day) == (("ingested", None), True)


def test_a_file_still_being_written_is_in_flux(etl, su, landing) -> None:
    day = dt.date(2016, 2, 7)
    path = write_csv(landing / "calls_20160207.csv", calls_rows(day, 5), header=list(CALLS_FIELDS))
    spec = {
        **file_config(landing),
        "flux_check": {"wait_interval": 0, "poke_interval": 0, "timeout": 0},
    }
    config = config_for("calls", spec).source("calls")

    def sleep(_seconds: float) -> None:  # the writer appends while the check waits
        with path.open("a") as f:
            f.write(",".join(calls_rows(day, 1, tag="late")[0]) + "\n")

    with pytest.raises(InFlux):
        load_day(etl, config, day, sleep=sleep)
    (latest_state, detail), _ = state(su, "calls", day)
    assert latest_state == "failed" and "still" in detail
    assert quarantined(su, "calls", day)[-1][0] == "file still being written"


def test_attach_needs_no_validation_scan(etl, su, landing) -> None:
    """The day CHECK proves the partition bound: PostgreSQL says so at DEBUG1 instead of scanning."""
    day = dt.date(2016, 2, 8)
    write_csv(landing / "calls_20160208.csv", calls_rows(day, 5), header=list(CALLS_FIELDS))
    notices: list[str] = []
    etl.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
    etl.execute("SET client_min_messages = debug1")
    load_day(etl, config_for("calls", file_config(landing)).source("calls"), day)
    assert any("is implied by existing constraints" in n for n in notices), notices


def test_flowapi_still_cannot_read_events(su) -> None:
    assert not su.execute("SELECT has_schema_privilege('flowapi', 'events', 'USAGE')").fetchone()[0]
    assert not su.execute("SELECT pg_has_role('flowapi', 'events_owner', 'MEMBER')").fetchone()[0]
    assert su.execute("SELECT pg_has_role('flowetl', 'events_owner', 'USAGE')").fetchone()[0]


def test_leftovers_of_an_interrupted_run_are_dropped_first(etl, su, landing) -> None:
    """A run stopped after extract committed (e.g. killed while indexing) left etl tables: the next run drops them."""
    day = dt.date(2016, 2, 9)
    write_csv(landing / "calls_20160209.csv", calls_rows(day, 5), header=list(CALLS_FIELDS))
    etl.execute("CREATE TABLE etl.extract_calls_20160209 (LIKE events.calls)")
    etl.execute("CREATE VIEW etl.stg_calls_20160209 AS SELECT 1 AS x")
    result = load_day(etl, config_for("calls", file_config(landing)).source("calls"), day)
    assert sorted(result.leftovers_dropped) == [
        "etl.extract_calls_20160209",
        "etl.stg_calls_20160209",
    ]
    assert partition_rows(su, "calls", day) == 5
    assert stray_etl_tables(su) == []


def test_flowetl_cannot_log_in_with_the_dev_password_on_a_reachable_flowdb(cluster, su) -> None:
    from dataclasses import replace

    from flowdb import roles

    exposed = replace(cluster.settings, listen_addresses="*", env={})
    try:
        roles.reconcile(su, exposed)
        assert not su.execute(
            "SELECT rolcanlogin FROM pg_roles WHERE rolname = 'flowetl'"
        ).fetchone()[0]
        roles.reconcile(su, replace(exposed, env={"FLOWETL_FLOWDB_PASSWORD": "s3cret"}))
        assert su.execute("SELECT rolcanlogin FROM pg_roles WHERE rolname = 'flowetl'").fetchone()[
            0
        ]
    finally:
        roles.reconcile(su, cluster.settings)


def test_a_day_loaded_by_flowdbs_superuser_loader_can_be_replaced_by_flowetl(
    etl, su, landing
) -> None:
    """Partitions made by any loader are re-owned by events_owner when attached (migration 0006's trigger), so
    FlowETL's role may drop and replace them."""
    from flowdb.synthetic.loading import day_partition

    day = dt.date(2016, 2, 10)
    with day_partition(su, "calls", day) as table:
        su.execute(
            psycopg.sql.SQL(
                "INSERT INTO {} (datetime, msisdn) VALUES ('2016-02-10 10:00+00', 'x')"
            ).format(table)
        )
    assert (
        su.execute(
            "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'events.calls_20160210'::regclass"
        ).fetchone()[0]
        == "events_owner"
    )
    write_csv(landing / "calls_20160210.csv", calls_rows(day, 5), header=list(CALLS_FIELDS))
    load_day(etl, config_for("calls", file_config(landing)).source("calls"), day)
    assert partition_rows(su, "calls", day) == 5


def test_table_mode_from_a_remote_table_through_postgres_fdw(cluster, etl, su) -> None:
    """A foreign table (postgres_fdw, set up once by the superuser) is a source like any other."""
    day = dt.date(2016, 2, 11)
    su.execute("DROP TABLE IF EXISTS public.operator_sms")
    su.execute("CREATE TABLE public.operator_sms (a_party TEXT, sent TIMESTAMPTZ, cell TEXT)")
    su.execute(
        """INSERT INTO public.operator_sms
           SELECT 'm' || i, '2016-02-11'::timestamptz + i * interval '1 hour', 'cell' || (i % 2)
           FROM generate_series(0, 23) i"""
    )
    su.execute("GRANT SELECT ON public.operator_sms TO flowmachine")
    su.execute("CREATE EXTENSION IF NOT EXISTS postgres_fdw")
    su.execute("DROP SERVER IF EXISTS operator CASCADE")
    su.execute(
        psycopg.sql.SQL(
            "CREATE SERVER operator FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '127.0.0.1', port {}, dbname 'flowdb')"
        ).format(psycopg.sql.Literal(str(cluster.status().port)))
    )
    for local_role in ("flowetl", "CURRENT_USER"):  # who reads it, and who imports its definition
        su.execute(
            psycopg.sql.SQL(
                "CREATE USER MAPPING FOR {} SERVER operator OPTIONS (user 'flowmachine', password {})"
            ).format(
                psycopg.sql.SQL(local_role),
                psycopg.sql.Literal(cluster.settings.flowmachine_password),
            )
        )
    su.execute("CREATE SCHEMA IF NOT EXISTS remote")
    su.execute(
        "IMPORT FOREIGN SCHEMA public LIMIT TO (operator_sms) FROM SERVER operator INTO remote"
    )
    su.execute("GRANT USAGE ON SCHEMA remote TO flowetl")
    su.execute("GRANT SELECT ON remote.operator_sms TO flowetl")
    spec = {
        "source": {
            "table": {
                "source_table": "remote.operator_sms",
                "staging_view_sql": """SELECT * FROM {{ source_table }}
                    WHERE sent >= '{{ ds }}' AND sent < '{{ tomorrow_ds }}'""",
            }
        },
        "columns": {"msisdn": "a_party", "datetime": "sent", "location_id": "cell"},
    }
    load_day(etl, config_for("sms", spec).source("sms"), day)
    assert su.execute(
        "SELECT count(*), count(DISTINCT location_id) FROM events.sms_20160211"
    ).fetchone() == (24, 2)
    assert stray_etl_tables(su) == []
