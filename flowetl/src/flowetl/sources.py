"""The source of one day: where it is, whether it is there, whether it is still changing, and its bytes.

Steps (FlowKit's sensors, reference/flowdb.md §6.2): `wait_for_data` (file exists and is not empty / the staging
query returns a row) and `check_not_in_flux` (file modification time and size / the staging query's row count
unchanged over the wait interval). Both poll until their timeout; `sleep` and `clock` are arguments so an
orchestrator (or a test) can drive them. `copy_chunks` streams a file as CSV bytes for COPY.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
from psycopg import sql

from flowdb.rows import scalar
from flowetl import errors
from flowetl.config import FileSource, SourceConfig, TableSource
from flowetl.errors import DataNotPresent, InFlux, MalformedInput
from flowetl.macros import render

CHUNK = 1 << 20  # bytes handed to COPY at a time
PARQUET_BATCH = 65536  # rows per Parquet record batch

Snapshot = tuple[int, ...]


def file_path(config: SourceConfig, day: dt.date) -> Path:
    """The day's file (file mode): the path template rendered with the day's macros; a relative path is in the
    configuration file's folder."""
    assert isinstance(config.source, FileSource)
    where = f"cdr_types.{config.cdr_type}.source.file.path"
    return config.source.base / render(config.source.path, config.macros(day), where=where)


def staging_query(config: SourceConfig, day: dt.date) -> sql.Composable:
    """The day's staging SELECT (table mode), rendered; trusted operator SQL, run only by the ETL role."""
    assert isinstance(config.source, TableSource)
    where = f"cdr_types.{config.cdr_type}.source.table.staging_view_sql"
    text = render(config.source.staging_view_sql, config.macros(day), where=where)
    # Trusted operator config (docs/flowetl.md): run only by the ETL role.
    return sql.SQL(text.strip().rstrip(";"))


def data_present(conn: psycopg.Connection, config: SourceConfig, day: dt.date) -> bool:
    """True once the day's file exists and is not empty, or its staging query returns at least one row."""
    if isinstance(config.source, FileSource):
        try:
            path = file_path(config, day)
            return path.is_file() and path.stat().st_size > 0
        except OSError:
            return False
    query = sql.SQL("SELECT EXISTS (SELECT 1 FROM ({}) s)").format(staging_query(config, day))
    return bool(scalar(conn.execute(query)))


def wait_for_data(
    conn: psycopg.Connection,
    config: SourceConfig,
    day: dt.date,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Return once the day's data is present; raise DataNotPresent after `data_present.timeout` seconds."""
    deadline = clock() + config.data_present.timeout
    while not data_present(conn, config, day):
        if clock() >= deadline:
            raise _not_present(config, day)
        sleep(config.data_present.poke_interval)


def _not_present(config: SourceConfig, day: dt.date) -> DataNotPresent:
    if isinstance(config.source, FileSource):
        path = file_path(config, day)
        if path.is_file():
            return DataNotPresent(f"{path} is empty", reason=errors.EMPTY)
        return DataNotPresent(f"{path} does not exist")
    return DataNotPresent(f"the staging query of {config.source.source_table} returned no row")


def snapshot(conn: psycopg.Connection, config: SourceConfig, day: dt.date) -> Snapshot:
    """What must stay the same while the data is complete: (mtime ns, size) of the file, or the row count."""
    if isinstance(config.source, FileSource):
        stat = file_path(config, day).stat()
        return (stat.st_mtime_ns, stat.st_size)
    query = sql.SQL("SELECT count(*) FROM ({}) s").format(staging_query(config, day))
    return (int(scalar(conn.execute(query))),)


def check_not_in_flux(
    conn: psycopg.Connection,
    config: SourceConfig,
    day: dt.date,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Return once the source is unchanged over `flux_check.wait_interval`; raise InFlux after its timeout."""
    flux = config.flux_check
    if not flux.enabled:
        return
    deadline = clock() + flux.timeout
    while True:
        before = snapshot(conn, config, day)
        sleep(flux.wait_interval)
        after = snapshot(conn, config, day)
        if before == after:
            return
        if clock() >= deadline:
            what = "file" if isinstance(config.source, FileSource) else "row count"
            raise InFlux(f"the {what} still changed after {flux.timeout:g} s ({before} -> {after})")
        sleep(flux.poke_interval)


def copy_chunks(source: FileSource, path: Path) -> Iterator[bytes]:
    """The file's rows as CSV bytes for COPY, read in chunks (gzip decompressed as a stream; Parquet converted
    batch by batch by Arrow, never value by value in Python). A corrupt or truncated file raises
    MalformedInput."""
    if source.format == "parquet":
        yield from _parquet_chunks(source, path)
        return
    opener = gzip.open if source.format == "csv.gz" else open
    try:
        with opener(path, "rb") as stream:
            while chunk := stream.read(CHUNK):
                yield chunk
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise MalformedInput(errors.TRUNCATED, f"{path}: {exc}") from None


def _parquet_chunks(source: FileSource, path: Path) -> Iterator[bytes]:
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise MalformedInput(errors.TRUNCATED, f"{path}: {exc}") from None
    present = set(parquet.schema_arrow.names)
    missing = [name for name in source.field_names if name not in present]
    if missing:
        raise MalformedInput(
            errors.WRONG_COLUMNS,
            f"{path}: missing columns {missing} (the file has {sorted(present)})",
        )
    options = pacsv.WriteOptions(include_header=False)
    try:
        for batch in parquet.iter_batches(
            batch_size=PARQUET_BATCH, columns=list(source.field_names)
        ):
            buffer = io.BytesIO()
            pacsv.write_csv(batch, buffer, options)
            yield buffer.getvalue()
    except (pa.ArrowException, OSError) as exc:
        raise MalformedInput(errors.TRUNCATED, f"{path}: {exc}") from None
