"""Vectorised encoding of numpy columns into PostgreSQL's binary COPY format.

A binary COPY stream is a header (``PGCOPY\\n\\377\\r\\n\\0``, int32 flags 0, int32 extension length 0), then one
tuple per row (int16 field count, then per field an int32 byte length, -1 for NULL, and the bytes), then an
int16 -1 trailer; every integer is big-endian. When every field of a column has the same width, a row is a
fixed-size record, so a whole batch of rows is one numpy structured array filled column by column and written
out with a single buffer copy: no Python loop over rows.

Text columns are fixed-width bytes arrays (dtype ``S<n>``). If their values differ in length (numpy pads with
NUL, which PostgreSQL text can never contain), the rows are encoded in groups of equal widths, so the stream
then lists rows grouped by width (stable within a group) rather than in input order.

    columns = [text("id", ids), timestamptz("datetime", micros), null("network")]
    with cursor.copy(copy_statement(table, columns)) as copy:
        copy.write(encode_copy(columns))
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from psycopg import sql

HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
TRAILER = (-1).to_bytes(2, "big", signed=True)
PG_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
NBASE = 10_000
_NUMERIC_POS = 0x0000
_FIXED = {
    "bool": np.dtype("?"),
    "int4": np.dtype(">i4"),
    "int8": np.dtype(">i8"),
    "float8": np.dtype(">f8"),
}
_FIXED["timestamptz"] = _FIXED["int8"]


@dataclass(frozen=True)
class Column:
    """One output column: its name, binary kind, values (None: every row NULL) and numeric layout.

    Kinds: ``text`` (S<n> bytes), ``timestamptz`` (int64 microseconds since 2000-01-01 UTC), ``bool``,
    ``int4``, ``int8``, ``float8`` and ``numeric`` (non-negative integers holding value x 10**scale, written
    with ``ndigits`` base-10000 digits of which ``ndigits - frac_digits`` are before the decimal point).
    """

    name: str
    kind: str
    values: np.ndarray | None
    ndigits: int = 0
    scale: int = 0

    @property
    def frac_digits(self) -> int:
        return 1 if self.scale else 0

    def payload_dtype(self) -> np.dtype | None:
        """The numpy dtype of one field's bytes, or None for a NULL column."""
        if self.values is None:
            return None
        if self.kind == "text":
            return np.dtype(f"S{self.values.dtype.itemsize}")
        if self.kind == "numeric":
            return np.dtype((">i2", (4 + self.ndigits,)))
        return _FIXED[self.kind]


def text(name: str, values: np.ndarray) -> Column:
    """A text column from a bytes array (dtype S<n>); the bytes must be valid UTF-8 without NUL."""
    values = np.asarray(values)
    if values.dtype.kind != "S" or values.dtype.itemsize == 0:
        raise TypeError(
            f"text column {name!r} needs a non-empty bytes array (S<n>), got {values.dtype}"
        )
    return Column(name, "text", values)


def timestamptz(name: str, micros: np.ndarray) -> Column:
    """A timestamptz column from int64 microseconds since 2000-01-01 00:00 UTC."""
    return Column(name, "timestamptz", np.asarray(micros, dtype=np.int64))


def boolean(name: str, values: np.ndarray) -> Column:
    return Column(name, "bool", np.asarray(values, dtype=bool))


def int4(name: str, values: np.ndarray) -> Column:
    return Column(name, "int4", np.asarray(values, dtype=np.int32))


def int8(name: str, values: np.ndarray) -> Column:
    return Column(name, "int8", np.asarray(values, dtype=np.int64))


def float8(name: str, values: np.ndarray) -> Column:
    return Column(name, "float8", np.asarray(values, dtype=np.float64))


def null(name: str) -> Column:
    """A column that is NULL in every row."""
    return Column(name, "null", None)


def numeric(name: str, values: np.ndarray, *, scale: int = 0, ndigits: int | None = None) -> Column:
    """A numeric column from non-negative integers that hold value x 10**scale (scale 0, 1, 2, 3 or 4).

    Every value is written with the same number of base-10000 digits (leading zero digits included, which
    PostgreSQL strips on receipt); by default as few as the largest value needs.
    """
    values = np.asarray(values, dtype=np.int64)
    if not 0 <= scale <= 4:
        raise ValueError("numeric scale must be between 0 and 4")
    if values.size and values.min() < 0:
        raise ValueError(f"numeric column {name!r} must not hold negative values")
    integral = values // 10**scale
    needed = _base10000_digits(int(integral.max()) if integral.size else 0)
    frac = 1 if scale else 0
    if ndigits is None:
        ndigits = needed + frac
    elif ndigits - frac < needed:
        raise ValueError(f"numeric column {name!r} needs {needed + frac} digits, got {ndigits}")
    return Column(name, "numeric", values, ndigits=ndigits, scale=scale)


def _base10000_digits(value: int) -> int:
    digits = 1
    while value >= NBASE:
        value //= NBASE
        digits += 1
    return digits


def micros_since_pg_epoch(day: dt.date) -> int:
    """Microseconds from 2000-01-01 00:00 UTC to midnight UTC of `day`."""
    midnight = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    return (midnight - PG_EPOCH) // dt.timedelta(microseconds=1)


def copy_statement(
    table: sql.Composable, columns: Sequence[Column | str], *, freeze: bool = False
) -> sql.Composed:
    """``COPY table (cols) FROM STDIN WITH (FORMAT binary)`` for columns or column names; with `freeze`,
    ``FREEZE`` too (for a table created in the current subtransaction: rows frozen, pages all-visible)."""
    names = [c if isinstance(c, str) else c.name for c in columns]
    options = sql.SQL("FORMAT binary, FREEZE" if freeze else "FORMAT binary")
    return sql.SQL("COPY {} ({}) FROM STDIN WITH ({})").format(
        table, sql.SQL(", ").join(sql.Identifier(n) for n in names), options
    )


def _row_count(columns: list[Column], n_rows: int | None) -> int:
    lengths = {len(c.values) for c in columns if c.values is not None}
    if n_rows is not None:
        lengths.add(n_rows)
    if len(lengths) > 1:
        raise ValueError(f"columns have different lengths: {sorted(lengths)}")
    if not lengths:
        raise ValueError("n_rows is needed when every column is NULL")
    return lengths.pop()


def _record_dtype(columns: list[Column]) -> np.dtype:
    fields: list[tuple[str, Any]] = [("n", ">i2")]
    for i, c in enumerate(columns):
        fields.append((f"l{i}", ">i4"))
        payload = c.payload_dtype()
        if payload is not None:
            fields.append((f"v{i}", payload))
    return np.dtype(fields)


def _numeric_payload(c: Column) -> np.ndarray:
    """(rows, 4 + ndigits) int16: ndigits, weight, sign, dscale, then base-10000 digits, most significant first."""
    assert c.values is not None
    out = np.empty((len(c.values), 4 + c.ndigits), dtype=np.int16)
    out[:, :4] = (c.ndigits, c.ndigits - c.frac_digits - 1, _NUMERIC_POS, c.scale)
    integral, rest = np.divmod(c.values, 10**c.scale)
    if c.frac_digits:
        out[:, -1] = rest * 10 ** (4 - c.scale)
    for k in range(c.ndigits - c.frac_digits - 1, -1, -1):
        integral, out[:, 4 + k] = np.divmod(integral, NBASE)
    return out


def encode_records(columns: list[Column], n_rows: int | None = None) -> np.ndarray:
    """The tuples (no header or trailer) as one structured array; text values must share their width."""
    n = _row_count(columns, n_rows)
    records = np.empty(n, dtype=_record_dtype(columns))
    records["n"] = len(columns)
    for i, c in enumerate(columns):
        payload = c.payload_dtype()
        records[f"l{i}"] = -1 if payload is None else payload.itemsize
        if payload is None:
            continue
        if c.kind == "numeric":
            records[f"v{i}"] = _numeric_payload(c)
        else:
            records[f"v{i}"] = c.values
    return records


def _text_widths(values: np.ndarray) -> np.ndarray | None:
    """Per-row byte lengths of a text column, or None when every value fills the full width."""
    width = values.dtype.itemsize
    raw = values.view(np.uint8).reshape(len(values), width)
    if bool(np.all(raw[:, -1] != 0)):
        return None
    return np.count_nonzero(raw, axis=1)


def _narrow(c: Column, rows: np.ndarray, widths: dict[str, np.ndarray]) -> Column:
    assert c.values is not None
    values = c.values[rows]
    if c.name in widths:
        values = values.astype(f"S{int(widths[c.name][rows[0]])}")
    return Column(c.name, c.kind, values, c.ndigits, c.scale)


def encode_tuples(columns: list[Column], n_rows: int | None = None) -> list[np.ndarray]:
    """The tuples as one or more record arrays (several only when a text column has varying widths)."""
    n = _row_count(columns, n_rows)
    widths: dict[str, np.ndarray] = {}
    for c in columns:
        if c.kind == "text" and c.values is not None and n:
            w = _text_widths(c.values)
            if w is not None:
                if int(w.min()) == 0:
                    raise ValueError(f"text column {c.name!r} holds an empty value or a NUL byte")
                widths[c.name] = w
    if not widths:
        return [encode_records(columns, n)]
    key = np.stack(list(widths.values()), axis=1)
    _, group = np.unique(key, axis=0, return_inverse=True)
    group = group.reshape(-1)
    parts = []
    for g in range(int(group.max()) + 1):
        rows = np.flatnonzero(group == g)
        narrowed = [c if c.values is None else _narrow(c, rows, widths) for c in columns]
        parts.append(encode_records(narrowed, len(rows)))
    return parts


def encode_copy(columns: list[Column], n_rows: int | None = None) -> bytes:
    """A complete binary COPY stream (header, tuples, trailer) for the given columns."""
    body = b"".join(part.tobytes() for part in encode_tuples(columns, n_rows))
    return HEADER + body + TRAILER


def iter_chunks(parts: list[np.ndarray], chunk_bytes: int = 4 << 20) -> list[memoryview]:
    """Header, the record arrays' bytes in slices of about `chunk_bytes` (no copies) and the trailer."""
    chunks = [memoryview(HEADER)]
    for part in parts:
        raw = part.view(np.uint8).data if part.size else memoryview(b"")
        chunks += [raw[i : i + chunk_bytes] for i in range(0, len(raw), chunk_bytes)]
    chunks.append(memoryview(TRAILER))
    return chunks
