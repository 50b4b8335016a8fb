"""The SQL generator's native function (flowdb_synthetic.c): its build, what it writes, and what it refuses.

That it writes the same rows as the SQL expressions is tested in test_sql_generator.py.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from test_sql_generator import _connect, small_config

from flowdb.cluster import find_bindir
from flowdb.errors import FlowDBError
from flowdb.synthetic.loading import day_partition
from flowdb.synthetic.native import build, find_library
from flowdb.synthetic.run import generate
from flowdb.synthetic.sql_generator import NATIVE_PARAMS, NATIVE_SIGNATURE
from flowdb.testing import visible_pages

SCHEMA = "native_test"
CELLS = [0x1A, 0x2B, 0xDEADBEEF, 0x4D, 0x5E, 0x6F]
# Six subscribers living in three two-cell regions: (lo << 32) | cnt.
HOMES = [(lo << 32) | 2 for lo in (0, 0, 2, 2, 4, 4)]
TACS = [35_000_001, 12_345_678]


def params(**overrides: int) -> list[int]:
    values = dict.fromkeys(NATIVE_PARAMS, 1)
    values.update(
        n_pairs=20, n_subs=len(HOMES), p_out=2**23, epoch=1_451_606_400, id_base=1 << 60,
        s_msisdn=11, s_imsi=-12, s_imei=13, s_tac=14, pair_a=15, pair_b=16, s1=17, s2=18, s3=19, s4=20,
        s6=21, s7=22,
    )  # fmt: skip
    values.update(overrides)
    return [values[name] for name in NATIVE_PARAMS]


@pytest.fixture
def fill(db: psycopg.Connection, native_library: Path):
    """Call the native function on a table of the test schema; the schema is dropped afterwards."""
    db.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(SCHEMA)))
    db.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(SCHEMA)))
    db.execute(
        sql.SQL(
            "CREATE FUNCTION {}.fill(" + NATIVE_SIGNATURE + ") RETURNS TEXT[] LANGUAGE C "
            "AS {}, 'flowdb_synthetic_fill'"
        ).format(sql.Identifier(SCHEMA), sql.Literal(str(native_library)))
    )

    def call(table: str, cdr_type: str = "calls", count: int = 40, **overrides):
        return db.execute(
            sql.SQL("SELECT {}.fill(%s::regclass, %s, 0, %s, %s, %s, %s, %s)").format(
                sql.Identifier(SCHEMA)
            ),
            (
                f"{SCHEMA}.{table}",
                cdr_type,
                count,
                overrides.get("params", params()),
                overrides.get("homes", HOMES),
                overrides.get("cells", CELLS),
                overrides.get("tacs", TACS),
            ),
        ).fetchone()[0]

    yield call
    db.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(SCHEMA)))


def target_like(db: psycopg.Connection, name: str, cdr_type: str = "calls") -> None:
    """A table of the test schema with the columns and NOT NULLs of events.<cdr_type>."""
    db.execute(f"CREATE TABLE {SCHEMA}.{name} (LIKE events.{cdr_type})")


def test_fill_writes_two_row_calls_and_returns_the_cells_it_used(db, fill):
    target_like(db, "calls")
    used = fill("calls", count=400)
    rows = db.execute(
        f"""SELECT id, outgoing, datetime, duration, msisdn, msisdn_counterpart, location_id, imsi, imei,
                   tac, network FROM {SCHEMA}.calls"""
    ).fetchall()
    assert len(rows) == 400
    assert sorted(used) == sorted({r[6] for r in rows})
    assert set(used) <= {f"{c:08x}" for c in CELLS}
    by_id: dict[str, list[tuple]] = {}
    for row in rows:
        by_id.setdefault(row[0], []).append(row)
    assert len(by_id) == 200
    for pair in by_id.values():
        out, inc = sorted(pair, key=lambda r: not r[1])
        assert out[1] and not inc[1]
        assert (out[4], out[5]) == (inc[5], inc[4]) and out[4] != out[5]
        assert out[2] == inc[2] and out[3] == inc[3] and 0 <= out[3] <= 2600
    day = dt.datetime(2016, 1, 1, tzinfo=dt.UTC)
    assert all(day <= r[2] < day + dt.timedelta(days=1) for r in rows)
    assert all(len(r[4]) == 16 and len(r[7]) == 15 and len(r[8]) == 16 for r in rows)
    assert {r[9] for r in rows} <= set(TACS)
    assert all(r[10] is None for r in rows)


def test_fill_writes_mds_and_topups(db, fill):
    target_like(db, "mds", "mds")
    target_like(db, "topups", "topups")
    fill("mds", "mds", 50, params=params(v1_range=261, v2_range=100_001, v3_range=100_001))
    fill("topups", "topups", 50, params=params(v1_range=6, v2_range=5_001))
    bad_volumes = db.execute(
        f"SELECT count(*) FROM {SCHEMA}.mds WHERE volume_total <> volume_upload + volume_download"
    ).fetchone()[0]
    assert bad_volumes == 0
    topups = db.execute(
        f"""SELECT type, recharge_amount, airtime_fee, tax_and_fee::text, pre_event_balance,
                   post_event_balance FROM {SCHEMA}.topups"""
    ).fetchall()
    assert len(topups) == 50
    for kind, amount, fee, tax, before, after in topups:
        assert kind == "recharge" and amount in (50, 100, 200, 500, 1000, 2000) and fee == 0
        assert tax == f"{amount / 10:.1f}" and after == before + amount * 9 / 10


@pytest.mark.parametrize(
    ("prepare", "message"),
    [
        (
            f"CREATE TABLE {SCHEMA}.t (LIKE events.calls); "
            f"ALTER TABLE {SCHEMA}.t ALTER COLUMN network SET DEFAULT 'x'",
            "must have no defaults",
        ),
        (
            f"CREATE TABLE {SCHEMA}.t (LIKE events.calls); CREATE INDEX ON {SCHEMA}.t (msisdn)",
            "must have no defaults, generated columns, indexes",
        ),
        (
            f"CREATE TABLE {SCHEMA}.t (LIKE events.calls); CREATE FUNCTION {SCHEMA}.f() RETURNS trigger "
            f"LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END'; CREATE TRIGGER g BEFORE INSERT ON {SCHEMA}.t "
            f"FOR EACH ROW EXECUTE FUNCTION {SCHEMA}.f()",
            "triggers",
        ),
        (
            f"CREATE TABLE {SCHEMA}.p (id text) PARTITION BY LIST (id); "
            f"CREATE TABLE {SCHEMA}.t PARTITION OF {SCHEMA}.p FOR VALUES IN ('x')",
            "must be a plain table that is not a partition",
        ),
        (
            f"CREATE TABLE {SCHEMA}.t (id text, outgoing boolean, datetime timestamptz)",
            "needs a column msisdn of type text",
        ),
        (
            f"CREATE TABLE {SCHEMA}.t (id text, outgoing boolean, datetime text)",
            "needs a column datetime of type timestamp with time zone",
        ),
    ],
    ids=["default", "index", "trigger", "partition", "missing-column", "wrong-type"],
)
def test_fill_refuses_targets_needing_more_than_constraint_checks(db, fill, prepare, message):
    db.execute(prepare)
    with pytest.raises(psycopg.Error, match=message):
        fill("t")


@pytest.mark.parametrize(
    ("constraint", "error", "message"),
    [
        (
            "ADD CHECK (datetime < '2016-01-01 12:00:00+00')",
            psycopg.errors.CheckViolation,
            'violates check constraint "t_datetime_check"',
        ),
        (
            "ALTER COLUMN network SET NOT NULL",
            psycopg.errors.NotNullViolation,
            'null value in column "network"',
        ),
    ],
    ids=["check", "not-null"],
)
def test_fill_checks_every_row_against_the_targets_constraints(
    db, fill, constraint, error, message
):
    target_like(db, "t")
    db.execute(f"ALTER TABLE {SCHEMA}.t {constraint}")
    with pytest.raises(error, match=message):
        fill("t", count=400)
    assert db.execute(f"SELECT count(*) FROM {SCHEMA}.t").fetchone()[0] == 0


def test_fill_refuses_a_tac_column_too_narrow_for_the_models(db, fill):
    target_like(db, "t")
    db.execute(f"ALTER TABLE {SCHEMA}.t ALTER COLUMN tac TYPE numeric(4)")
    with pytest.raises(psycopg.errors.NumericValueOutOfRange, match="tac 35000001 does not fit"):
        fill("t")


@pytest.mark.parametrize(
    ("cdr_type", "overrides", "message"),
    [
        ("forwards", {}, 'unknown CDR type "forwards"'),
        ("calls", {"params": params()[:-1]}, "params must hold 20 values, not 19"),
        ("calls", {"homes": [(5 << 32) | 2] * len(HOMES)}, "lies outside the 6 cells"),
        ("calls", {"homes": HOMES[:-1]}, "inconsistent sizes"),
        ("calls", {"cells": [1, -1, 2, 3, 4, 5]}, r"cell numbers must lie in \[0, 2\^32\)"),
        ("calls", {"tacs": []}, "inconsistent sizes"),
        ("topups", {"params": params(v1_range=7)}, "inconsistent sizes"),
    ],
    ids=["type", "params", "homes-range", "homes-count", "cells", "tacs", "amounts"],
)
def test_fill_refuses_inconsistent_inputs(db, fill, cdr_type, overrides, message):
    target_like(db, "t", "topups" if cdr_type == "topups" else "calls")
    with pytest.raises(psycopg.Error, match=message):
        fill("t", cdr_type, **overrides)
    assert db.execute(f"SELECT count(*) FROM {SCHEMA}.t").fetchone()[0] == 0


def test_fill_needs_insert_on_the_target(db, fill, cluster):
    target_like(db, "t")
    db.execute("DROP ROLE IF EXISTS native_test_reader")
    db.execute("CREATE ROLE native_test_reader")
    try:
        db.execute(f"GRANT USAGE ON SCHEMA {SCHEMA} TO native_test_reader")
        db.execute(f"GRANT SELECT ON {SCHEMA}.t TO native_test_reader")
        db.execute("SET ROLE native_test_reader")
        try:
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
                fill("t")
        finally:
            db.execute("RESET ROLE")
        assert db.execute(f"SELECT count(*) FROM {SCHEMA}.t").fetchone()[0] == 0
    finally:
        db.execute("DROP OWNED BY native_test_reader")
        db.execute("DROP ROLE native_test_reader")


def test_fill_writes_a_table_of_its_own_transaction_frozen(db, fill):
    """As COPY FREEZE: a table created in the same transaction gets all-visible pages (no VACUUM needed);
    an older table gets ordinary rows."""
    with db.transaction():
        target_like(db, "fresh")
        fill("fresh", count=4000)
    target_like(db, "older")
    with db.transaction():
        fill("older", count=4000)
    pages, visible = visible_pages(db, f"{SCHEMA}.fresh")
    assert pages > 1 and visible == pages
    assert visible_pages(db, f"{SCHEMA}.older") == (pages, 0)


def test_a_loader_may_give_the_location_ids_of_its_rows(db):
    day = dt.date(2031, 3, 4)
    try:
        with day_partition(db, "sms", day, location_ids=lambda: ["given", "given"]) as table:
            db.execute(
                sql.SQL(
                    "INSERT INTO {} (id, datetime, msisdn, location_id) "
                    "VALUES ('x', '2031-03-04 10:00:00+00', 'a', 'c1')"
                ).format(table)
            )
        locations = db.execute(
            "SELECT location_id FROM events.location_ids WHERE first_active_date = %s", (day,)
        ).fetchall()
        assert locations == [("given",)]
    finally:
        db.execute("DROP TABLE IF EXISTS events.sms_20310304")
        db.execute("DELETE FROM etl.etl_records WHERE cdr_date = %s", (day,))
        db.execute("DELETE FROM events.location_ids WHERE first_active_date = %s", (day,))


def test_a_build_is_reused_and_named_by_its_source(tmp_path, cluster):
    pg_config = find_bindir(cluster.settings) / "pg_config"
    first = build(tmp_path / "lib", pg_config)
    stamp = first.stat().st_mtime_ns
    again = build(tmp_path / "lib", pg_config)
    assert again == first and again.stat().st_mtime_ns == stamp
    assert first.name.startswith("flowdb_synthetic-") and first.stat().st_mode & 0o005 == 0o005
    assert [p.name for p in (tmp_path / "lib").iterdir()] == [first.name]


def _fake_pg_config(tmp_path: Path, include: Path, cc: str) -> Path:
    script = tmp_path / "pg_config"
    script.write_text(
        '#!/bin/sh\ncase "$1" in\n'
        f"  --includedir-server) echo {include} ;;\n  --cc) echo {cc} ;;\n"
        "  --version) echo 'PostgreSQL 15.99' ;;\n  *) echo '' ;;\nesac\n"
    )
    script.chmod(0o755)
    return script


def test_build_errors_say_what_is_missing(tmp_path):
    no_headers = _fake_pg_config(tmp_path, tmp_path / "nowhere", "cc")
    with pytest.raises(FlowDBError, match="server headers are not installed"):
        build(tmp_path / "lib", no_headers)
    include = tmp_path / "include"
    include.mkdir()
    (include / "postgres.h").write_text("#error not really PostgreSQL\n")
    with pytest.raises(FlowDBError, match="no C compiler: no-such-cc"):
        build(tmp_path / "lib", _fake_pg_config(tmp_path, include, "no-such-cc"))
    with pytest.raises(FlowDBError, match="compiling flowdb_synthetic.c failed"):
        build(tmp_path / "lib", _fake_pg_config(tmp_path, include, "cc"))
    (tmp_path / "file").write_text("")
    with pytest.raises(FlowDBError, match="cannot write the library into"):
        build(tmp_path / "file" / "lib", _fake_pg_config(tmp_path, include, "cc"))
    assert not [p for p in (tmp_path / "lib").iterdir() if p.suffix == ".so"]


def test_find_library_prefers_the_configured_one_and_falls_back_with_a_reason(tmp_path):
    configured = tmp_path / "prebuilt.so"
    with pytest.raises(FlowDBError, match="FLOWDB_SYNTHETIC_LIBRARY .* does not exist"):
        find_library(configured, None, Path("pg_config"))
    configured.write_bytes(b"")
    assert find_library(configured, tmp_path / "lib", Path("pg_config")).path == configured
    remote = find_library(None, None, Path("pg_config"))
    assert remote.path is None and "FlowDB is not local" in remote.note
    broken = find_library(None, tmp_path / "lib", _fake_pg_config(tmp_path, tmp_path / "x", "cc"))
    assert broken.path is None and "server headers are not installed" in broken.note


def test_a_library_the_server_cannot_load_fails_the_run_cleanly(cluster, db, scratch_root):
    fake = scratch_root / "not-a-library.so"
    fake.write_text("not ELF\n")
    fake.chmod(0o644)
    with pytest.raises(FlowDBError, match=f"FlowDB cannot load the native generator {fake}"):
        generate(_connect(cluster), small_config(n_days=1), native_library=fake)
    assert db.execute("SELECT count(*) FROM etl.etl_records").fetchone()[0] == 0
