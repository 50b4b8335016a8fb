"""Streaming from FlowDB as the `flowapi` role: chunked reads, JSON/CSV framing, and what the role may not read."""

from __future__ import annotations

import json

import asyncpg
import pytest

from flowapi.results import ResultStore, stream_csv, stream_json

pytestmark = pytest.mark.asyncio


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

        rows = await results.open("SELECT g AS n, g / 2.0 AS half FROM generate_series(1, 250) g")
        body = b"".join(
            [part async for part in stream_json(rows, result_name="r", additional={"a": 1})]
        )
        parsed = json.loads(body)
        assert parsed["a"] == 1 and len(parsed["r"]) == 250
        assert parsed["r"][0] == {"n": 1, "half": 0.5}

        rows = await results.open("SELECT 1 AS n WHERE false")
        assert b"".join([p async for p in stream_csv(rows)]) == b""  # no header when empty
        rows = await results.open("SELECT 1 AS n WHERE false")
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
