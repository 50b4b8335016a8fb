"""The binary COPY encoder, checked against what PostgreSQL reads back."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import psycopg
import pytest
from psycopg import sql

from flowdb.synthetic import pgbinary as pb

UTC = dt.UTC


def copy_into(conn: psycopg.Connection, ddl: str, columns: list[pb.Column], n_rows=None) -> list:
    """Create temp table t (ddl), COPY the encoded columns into it, return its rows in row order."""
    conn.execute("DROP TABLE IF EXISTS pg_temp.t")
    conn.execute(f"CREATE TEMP TABLE t (rowno serial, {ddl})")
    with conn.cursor() as cur:
        with cur.copy(pb.copy_statement(sql.Identifier("t"), columns)) as copy:
            copy.write(pb.encode_copy(columns, n_rows))
    names = sql.SQL(", ").join(sql.Identifier(c.name) for c in columns)
    return conn.execute(sql.SQL("SELECT {} FROM t ORDER BY rowno").format(names)).fetchall()


def test_header_and_trailer() -> None:
    data = pb.encode_copy([pb.int4("a", np.array([7], dtype=np.int32))])
    assert data[:11] == b"PGCOPY\n\xff\r\n\x00"
    assert data[11:19] == b"\x00" * 8
    assert data[19:] == b"\x00\x01" + b"\x00\x00\x00\x04" + b"\x00\x00\x00\x07" + b"\xff\xff"


def test_numeric_integers(db: psycopg.Connection) -> None:
    values = np.array([0, 1, 9999, 10000, 10001, 123456, 99999999, 5000, 100000000], dtype=np.int64)
    rows = copy_into(
        db,
        "a numeric, b numeric, c numeric",
        [
            pb.numeric("a", values),  # 3 digits: the minimum for 100000000
            pb.numeric("b", values, ndigits=5),  # extra leading zero digits
            pb.numeric("c", values % 100_000_000, ndigits=2),  # as a NUMERIC(8) tac
        ],
    )
    assert [r[0] for r in rows] == [Decimal(int(v)) for v in values]
    assert [r[1] for r in rows] == [Decimal(int(v)) for v in values]
    assert [r[2] for r in rows] == [Decimal(int(v % 100_000_000)) for v in values]
    # Stored in canonical form: zero digits stripped, so equal values compare and hash equal.
    texts = db.execute("SELECT a::text, b::text, c::text FROM t ORDER BY rowno").fetchall()
    assert texts[0] == ("0", "0", "0")
    assert texts[3] == ("10000", "10000", "10000")
    assert db.execute("SELECT count(DISTINCT b) FROM t").fetchone()[0] == len(set(values.tolist()))


def test_numeric_typmod(db: psycopg.Connection) -> None:
    values = np.array([0, 35_000_000, 99_999_999], dtype=np.int64)
    rows = copy_into(db, "tac numeric(8)", [pb.numeric("tac", values, ndigits=3)])
    assert [r[0] for r in rows] == [Decimal(int(v)) for v in values]
    with pytest.raises(psycopg.errors.NumericValueOutOfRange):
        copy_into(db, "tac numeric(8)", [pb.numeric("tac", np.array([100_000_000]))])


def test_numeric_money(db: psycopg.Connection) -> None:
    cents = np.array([0, 1, 5, 99, 100, 12345, 999999, 1000000], dtype=np.int64)
    rows = copy_into(db, "m numeric", [pb.numeric("m", cents, scale=2)])
    assert [r[0] for r in rows] == [Decimal(int(c)).scaleb(-2) for c in cents]
    assert db.execute("SELECT m::text FROM t ORDER BY rowno LIMIT 2").fetchall() == [
        ("0.00",),
        ("0.01",),
    ]
    with pytest.raises(ValueError):
        pb.numeric("m", np.array([-1]))


def test_timestamptz_at_day_boundaries(db: psycopg.Connection) -> None:
    moments = [
        dt.datetime(2000, 1, 1, tzinfo=UTC),
        dt.datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        dt.datetime(2016, 1, 1, tzinfo=UTC),
        dt.datetime(2016, 1, 1, 23, 59, 59, tzinfo=UTC),
        dt.datetime(2016, 1, 2, tzinfo=UTC),
        dt.datetime(2024, 2, 29, 12, 0, 0, 123456, tzinfo=UTC),
    ]
    micros = np.array([(m - pb.PG_EPOCH) // dt.timedelta(microseconds=1) for m in moments])
    assert pb.micros_since_pg_epoch(dt.date(2016, 1, 2)) == micros[4]
    rows = copy_into(db, "ts timestamptz", [pb.timestamptz("ts", micros)])
    assert [r[0] for r in rows] == moments


def test_text_bool_ints_floats_and_nulls(db: psycopg.Connection) -> None:
    ids = np.array([b"abc1", b"zz99", b"0000"], dtype="S4")
    rows = copy_into(
        db,
        "s text, b boolean, i integer, j bigint, f double precision, n1 text, n2 numeric",
        [
            pb.text("s", ids),
            pb.boolean("b", np.array([True, False, True])),
            pb.int4("i", np.array([0, -5, 2**31 - 1])),
            pb.int8("j", np.array([0, -(2**62), 2**62])),
            pb.float8("f", np.array([0.0, -1.5, 1e300])),
            pb.null("n1"),
            pb.null("n2"),
        ],
    )
    assert rows == [
        ("abc1", True, 0, 0, 0.0, None, None),
        ("zz99", False, -5, -(2**62), -1.5, None, None),
        ("0000", True, 2**31 - 1, 2**62, 1e300, None, None),
    ]


def test_only_null_columns(db: psycopg.Connection) -> None:
    rows = copy_into(db, "a text, b numeric", [pb.null("a"), pb.null("b")], n_rows=4)
    assert rows == [(None, None)] * 4
    with pytest.raises(ValueError):
        pb.encode_copy([pb.null("a")])


def test_empty_copy(db: psycopg.Connection) -> None:
    assert copy_into(db, "a integer", [pb.int4("a", np.array([], dtype=np.int32))]) == []


def test_variable_width_text_is_grouped(db: psycopg.Connection) -> None:
    words = np.array([b"a", b"bbb", b"cc", b"dd", b"eee", b"f"], dtype="S3")
    keys = np.arange(6)
    rows = copy_into(db, "w text, k integer", [pb.text("w", words), pb.int4("k", keys)])
    assert sorted(rows, key=lambda r: r[1]) == [
        (w.decode(), int(k)) for w, k in zip(words, keys, strict=True)
    ]
    with pytest.raises(ValueError):
        pb.encode_copy([pb.text("w", np.array([b"", b"x"], dtype="S1"))])


def test_chunks_cover_the_stream(db: psycopg.Connection) -> None:
    n = 50_000
    columns = [pb.int8("j", np.arange(n)), pb.text("s", np.full(n, b"xyz", dtype="S3"))]
    parts = pb.encode_tuples(columns)
    chunks = pb.iter_chunks(parts, chunk_bytes=10_000)
    assert b"".join(bytes(c) for c in chunks) == pb.encode_copy(columns)
    db.execute("DROP TABLE IF EXISTS pg_temp.t")
    db.execute("CREATE TEMP TABLE t (j bigint, s text)")
    with db.cursor() as cur:
        with cur.copy(pb.copy_statement(sql.Identifier("t"), columns)) as copy:
            for chunk in chunks:
                copy.write(chunk)
    assert db.execute("SELECT count(*), sum(j), min(s), max(s) FROM t").fetchone() == (
        n,
        n * (n - 1) // 2,
        "xyz",
        "xyz",
    )
