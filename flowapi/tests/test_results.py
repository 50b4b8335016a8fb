"""Streaming from FlowDB as the `flowapi` role: chunked reads, JSON/CSV framing, and what the role may not read."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import uuid
from typing import Any

import asyncpg
import pytest

from flowapi.results import ResultStore, stream_csv, stream_json

pytestmark = pytest.mark.asyncio


def _json_default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return float(value) if value.is_finite() else None
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID | dt.timedelta):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def _clean(value: Any) -> Any:
    """NaN and infinities are not JSON: they go out as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def row_json(record: asyncpg.Record) -> str:
    """One record as a JSON object, encoded in Python: the independent reference for `json_rows_sql`
    (non-finite numbers as null, dates ISO 8601)."""
    return json.dumps({k: _clean(v) for k, v in record.items()}, default=_json_default)


def store(settings, chunk_rows):
    dsn = {
        "host": settings.flowdb_host,
        "port": settings.flowdb_port,
        "user": settings.flowdb_user,
        "password": settings.flowdb_password,
        "database": settings.flowdb_database,
    }
    return ResultStore(dsn, pool_size=2, chunk_rows=chunk_rows)


async def test_rows_arrive_in_chunks(settings):
    results = store(settings, chunk_rows=100)
    try:
        rows = await results.open("SELECT g AS n, g / 2.0 AS half FROM generate_series(1, 1050) g")
        sizes = [len(chunk) async for chunk in rows.chunks()]
        assert sizes == [100] * 10 + [50]

        rows = await results.open(
            "SELECT g AS n, g / 2.0 AS half FROM generate_series(1, 250) g", as_json=True
        )
        body = b"".join(
            [part async for part in stream_json(rows, result_name="r", additional={"a": 1})]
        )
        parsed = json.loads(body)
        assert parsed["a"] == 1 and len(parsed["r"]) == 250
        assert parsed["r"][0] == {"n": 1, "half": 0.5}

        rows = await results.open("SELECT 1 AS n WHERE false")
        assert b"".join([p async for p in stream_csv(rows)]) == b""  # no header when empty
        rows = await results.open("SELECT 1 AS n WHERE false", as_json=True)
        empty = b"".join([p async for p in stream_json(rows, result_name="r", additional={})])
        assert json.loads(empty) == {"r": []}

        pool = await results.pool()
        assert pool.get_idle_size() == pool.get_size()  # every connection was given back
    finally:
        await results.close()


async def test_the_flowapi_role_cannot_read_events(settings):
    results = store(settings, chunk_rows=10)
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await results.open("SELECT * FROM events.calls LIMIT 1")
        rows = await results.open("SELECT count(*) AS n FROM geography.admin3")
        assert [dict(r) async for chunk in rows.chunks() for r in chunk] == [{"n": 16}]
    finally:
        await results.close()


async def test_json_rows_written_by_postgresql_equal_python_encoding(settings):
    """PostgreSQL's row_to_json text, parsed, equals the records encoded one by one in Python (row_json):
    every type a result can hold, non-finite numbers as null, awkward text and column names."""
    sql = """SELECT g AS n, g::bigint * 3000000000 AS big, g / 4.0 AS quarter, (g * 0.1)::float8 AS f,
                    (ARRAY['NaN', 'Infinity', '-Infinity', '1.5e300']::float8[])[1 + g % 4] AS odd_float,
                    (ARRAY['NaN', '2.50']::numeric[])[1 + g % 2] AS odd_numeric,
                    (g % 2 = 0) AS even, CASE WHEN g % 3 = 0 THEN NULL ELSE g END AS maybe,
                    E'quote " back\\\\slash \\t tab é ✓ ' || g AS txt,
                    DATE '2016-01-01' + g AS day,
                    TIMESTAMPTZ '2016-01-01 12:00:00+00' + g * INTERVAL '1 hour 1 second' AS at,
                    json_build_object('k', g, 'l', ARRAY[g, g]) AS js,
                    g AS "odd ""name"" x"
             FROM generate_series(1, 40) g"""
    results = store(settings, chunk_rows=7)
    try:
        python_rows = await results.open(sql)
        expected = [json.loads(row_json(r)) async for chunk in python_rows.chunks() for r in chunk]
        pg_rows = await results.open(sql, as_json=True)
        texts = [r[0] async for chunk in pg_rows.chunks() for r in chunk]
        got = [json.loads(t) for t in texts]
        assert got == expected
        assert [list(g) for g in got] == [list(e) for e in expected]  # keys in column order
        assert {r["odd_float"] for r in got} == {None, 1.5e300}
        assert {r["odd_numeric"] for r in got} == {None, 2.5}
        body = b"".join(
            [
                p
                async for p in stream_json(
                    await results.open(sql, as_json=True), result_name="r", additional={}
                )
            ]
        )
        assert json.loads(body) == {"r": expected}
    finally:
        await results.close()
