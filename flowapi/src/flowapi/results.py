"""Streaming result rows from FlowDB (asyncpg, as the `flowapi` role) as JSON or CSV.

FlowAPI runs the SQL FlowMachine hands it (`SELECT * FROM cache.x<id>`, or GeoJSON feature rows)
through a server-side cursor inside a read-only transaction, `chunk_rows` rows per round trip, so a
result is never held in memory whole. The first chunk is fetched before the HTTP response starts:
a query that fails at once (a cache table dropped meanwhile) still gets a proper error status. A
failure later can only cut the body short; it is logged.

For JSON, PostgreSQL writes each row's object itself (`row_to_json`, in C, as it reads the row), and FlowAPI
only joins the texts: encoding rows in Python ran at a fifth of the speed of reading them. Non-finite floats
and numerics (not JSON) are turned into null first; timestamps are ISO 8601 in
UTC (the pool's time zone), as before.

JSON bodies follow FlowKit: `{"query_id": "<id>", "query_result": [{row}, ...]}` for results and
`{"type": "FeatureCollection", "features": [...]}` for GeoJSON.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import asyncpg

log = logging.getLogger("flowapi.debug")


# Types whose values may be NaN or infinite, which JSON cannot hold.
NONFINITE_TYPES = frozenset({"float4", "float8", "numeric"})


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def json_rows_sql(conn: asyncpg.Connection, sql: str) -> str:
    """`sql`'s rows as one text column of JSON objects (keys in column order), written by PostgreSQL.

    `sql` is FlowMachine's trusted text (never request input) and the column names are quoted identifiers,
    so composing text here puts no request value into SQL."""
    columns = (await conn.prepare(sql)).get_attributes()
    if not any(c.type.name in NONFINITE_TYPES for c in columns):
        return f"SELECT row_to_json(s)::text FROM ({sql}) s"  # noqa: S608 (trusted, see above)
    finite = ", ".join(
        (
            f"CASE WHEN s.{q} IN ('NaN', 'Infinity', '-Infinity') THEN NULL ELSE s.{q} END AS {q}"
            if c.type.name in NONFINITE_TYPES
            else f"s.{q}"
        )
        for c in columns
        for q in [_quote_ident(c.name)]
    )
    return f"SELECT row_to_json(t)::text FROM (SELECT {finite} FROM ({sql}) s) t"  # noqa: S608


async def _init_connection(conn: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


class ResultStore:
    """The asyncpg pool to FlowDB, opened on first use and closed with the app."""

    def __init__(self, dsn: dict[str, Any], *, pool_size: int, chunk_rows: int) -> None:
        self._dsn = dsn
        self._pool_size = pool_size
        self.chunk_rows = chunk_rows
        self._pool: asyncpg.Pool | None = None
        self._lock = asyncio.Lock()

    async def pool(self) -> asyncpg.Pool:
        async with self._lock:
            if self._pool is None:
                self._pool = await asyncpg.create_pool(
                    **self._dsn,
                    min_size=1,
                    max_size=self._pool_size,
                    init=_init_connection,
                    server_settings={"application_name": "flowapi", "TimeZone": "UTC"},
                )
            return self._pool

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            try:  # a stream still being read holds a connection: do not wait for it forever
                await asyncio.wait_for(pool.close(), timeout=10)
            except TimeoutError:
                pool.terminate()

    async def open(self, sql: str, *, as_json: bool = False) -> RowStream:
        """Start reading `sql` (trusted: FlowMachine's text, never request input); first chunk fetched.

        `as_json`: each row is one text column holding the row as a JSON object (see `json_rows_sql`)."""
        pool = await self.pool()
        conn = await pool.acquire()
        transaction = conn.transaction(readonly=True)
        try:
            await transaction.start()
            cursor = await conn.cursor(await json_rows_sql(conn, sql) if as_json else sql)
            first = await cursor.fetch(self.chunk_rows)
        except BaseException:
            if conn.is_in_transaction():  # give it back clean (asyncpg warns otherwise)
                try:
                    await transaction.rollback()
                except Exception:  # a broken connection: the pool discards it
                    pass
            await pool.release(conn)
            raise
        return RowStream(pool, conn, transaction, cursor, first, self.chunk_rows, as_json=as_json)


class RowStream:
    """Chunks of records from an open cursor; gives its connection back when done or closed."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        conn: asyncpg.Connection,
        transaction: Any,
        cursor: Any,
        first: list[asyncpg.Record],
        chunk_rows: int,
        *,
        as_json: bool = False,
    ) -> None:
        self.as_json = as_json
        self._pool, self._conn, self._transaction, self._cursor = pool, conn, transaction, cursor
        self._first: list[asyncpg.Record] | None = first
        self._chunk_rows = chunk_rows
        self._closed = False

    async def chunks(self) -> AsyncIterator[list[asyncpg.Record]]:
        try:
            chunk, self._first = self._first or [], None
            while chunk:
                yield chunk
                if len(chunk) < self._chunk_rows:
                    break
                chunk = await self._cursor.fetch(self._chunk_rows)
        finally:
            await self.close()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await self._transaction.rollback()
        except Exception:  # the connection may be broken; the pool discards it then
            pass
        await self._pool.release(self._conn)


async def stream_json(
    rows: RowStream,
    *,
    result_name: str,
    additional: dict[str, Any],
    request_id: str | None = None,
) -> AsyncIterator[bytes]:
    """`{<additional>, "<result_name>": [row, row, ...]}` in pieces, from rows opened `as_json`."""
    if not rows.as_json:
        await rows.close()
        raise ValueError("stream_json needs rows opened with as_json=True")
    head = "".join(f"{json.dumps(k)}:{json.dumps(v)}, " for k, v in additional.items())
    yield f"{{{head}{json.dumps(result_name)}:[".encode()
    first = True
    try:
        async for chunk in rows.chunks():
            text = ", ".join(r[0] for r in chunk)
            yield (text if first else ", " + text).encode()
            first = False
    except Exception:
        log.exception(
            "result stream failed part way; the body is cut short",
            extra={"request_id": request_id},
        )
        return
    finally:
        await rows.close()
    yield b"]}"


async def stream_csv(rows: RowStream, *, request_id: str | None = None) -> AsyncIterator[bytes]:
    """CSV with a header row from the first row's columns (no header for an empty result)."""
    header_written = False
    try:
        async for chunk in rows.chunks():
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            if not header_written:
                writer.writerow(chunk[0].keys())
                header_written = True
            writer.writerows(
                [
                    [json.dumps(v) if isinstance(v, dict | list) else v for v in r.values()]
                    for r in chunk
                ]
            )
            yield buffer.getvalue().encode()
    except Exception:
        log.exception(
            "result stream failed part way; the body is cut short",
            extra={"request_id": request_id},
        )
    finally:
        await rows.close()
