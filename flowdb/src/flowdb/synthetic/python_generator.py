"""The Python generator: reproducible events made with numpy and loaded by binary COPY (SYNTHETIC_DATA_GENERATOR=python).

The model, the same as the SQL generator's:

* Every cell belongs to the admin3 unit it lies in: the units with cells are the *regions*.
* Subscribers 0..N-1 come from SUBSCRIBERS_SEED: a unique msisdn (16 hex digits), imsi (15) and imei (16),
  and one TAC drawn from infrastructure.tacs: one handset each.
* A subscriber's home on day 0 is the region of a uniformly random cell, so homes are spread like the cells.
  Each following day a subscriber moves with probability P_RELOCATE to the region of a uniformly random cell
  outside the current home.
* Mass relocation: on days within [DISASTER_START, DISASTER_END] the cells of the admin2 unit
  DISASTER_REGION_PCOD are unavailable. Everyone living there is moved out on the first such day (to the
  region of a random available cell) and nobody moves in while the window lasts. Nobody moves back on their
  own afterwards.
* An event happens at a uniformly random available cell of the subscriber's home region with probability
  1 - P_OUT_OF_AREA, otherwise at a uniformly random available cell outside it (inside when there is no
  other, outside when home has no available cell).
* Calls and sms: INTERACTIONS_MULTIPLIER x N fixed (caller, callee) pairs with caller != callee, drawn once
  from SUBSCRIBERS_SEED; each event picks a pair uniformly and is written in FlowKit's two-row format (an
  outgoing row for the caller and an incoming row for the callee, sharing id, datetime and duration).
  Times are whole seconds, uniform over the day; call durations 0..2600 s.
* Mds: random subscribers, duration 0..260 s, upload and download 0..100000 each, total their sum.
* Topups: random subscribers, type 'recharge', amount from {50, 100, 200, 500, 1000, 2000}, airtime fee 0,
  tax and fee 10% of the amount, pre-event balance 0..5000, post = pre + amount - tax and fee.
* Ids are 16 hex digits, a bijective mix of (calls seed, day, type, index), so they are unique.

Randomness: subscribers, pairs and homes come from streams of SUBSCRIBERS_SEED; the events of one (day, type)
from numpy's default_rng((CALLS_SEED, day index, type index)), so each day and type is reproducible on its
own and the same seeds and sizes give byte-identical rows.

Loading: each (day, type) is encoded to PostgreSQL's binary COPY format (flowdb.synthetic.pgbinary) and
loaded with one COPY inside `day_partition`. The main thread generates the next batch while a loader thread
COPYs the current one (numpy and libpq release the GIL); given a connection factory, batches of different
types also load concurrently on several connections.
"""

from __future__ import annotations

import datetime as dt
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import psycopg
from psycopg import sql

from flowdb.errors import FlowDBError
from flowdb.qa import record_default_checks
from flowdb.synthetic import pgbinary as pb
from flowdb.synthetic.config import TWO_ROW_TYPES, SyntheticConfig
from flowdb.synthetic.loading import day_partition
from flowdb.synthetic.operator_files import OperatorFiles, day_file

Progress = Callable[[str], None]
ConnectionFactory = Callable[[], psycopg.Connection]
TYPE_INDEX = {"calls": 0, "sms": 1, "mds": 2, "topups": 3}
RECHARGE_AMOUNTS = np.array([50, 100, 200, 500, 1000, 2000], dtype=np.int64)
SECONDS_PER_DAY = 86_400
# Streams of SUBSCRIBERS_SEED.
_IDENTITY, _PAIRS, _HOMES = 0, 1, 2
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_MASK64 = (1 << 64) - 1


@dataclass(frozen=True)
class World:
    """The cells events can happen at, their regions (admin3 units with cells) and the handset TACs."""

    cell_ids: np.ndarray  # S<n>: infrastructure.cells.id
    cell_region: np.ndarray  # int64 region index of each cell
    region_pcods: np.ndarray  # admin3pcod of each region (str)
    region_admin2: np.ndarray  # admin2pcod of each region (str)
    tacs: np.ndarray  # int64 TACs

    @classmethod
    def from_cells(
        cls,
        cell_ids: Sequence[str],
        admin3pcods: Sequence[str],
        admin2pcods: Sequence[str],
        tacs: Sequence[int],
    ) -> World:
        """A world from parallel per-cell lists (in a deterministic order) and the TACs."""
        if not len(cell_ids):
            raise FlowDBError("no cell lies inside the geography: cannot place any event")
        if not len(tacs):
            raise FlowDBError("infrastructure.tacs is empty: subscribers need handsets")
        admin3 = np.array(admin3pcods, dtype=str)
        regions, first, cell_region = np.unique(admin3, return_index=True, return_inverse=True)
        return cls(
            cell_ids=np.array([c.encode() for c in cell_ids], dtype=bytes),
            cell_region=cell_region.reshape(-1).astype(np.int64),
            region_pcods=regions,
            region_admin2=np.array(admin2pcods, dtype=str)[first],
            tacs=np.array([int(t) for t in tacs], dtype=np.int64),
        )

    @classmethod
    def from_db(cls, conn: psycopg.Connection, cell_regions_sql: str) -> World:
        """Read cells (one row per cell id, its lowest version) with their admin units, and the TACs."""
        rows = conn.execute(
            sql.SQL(
                """SELECT DISTINCT ON (r.cell_id) r.cell_id, r.admin3pcod, r.admin2pcod
                   FROM ({}) AS r WHERE r.admin3pcod IS NOT NULL
                   ORDER BY r.cell_id, r.version"""
            ).format(sql.SQL(cell_regions_sql))  # a trusted constant query, not a value
        ).fetchall()
        tacs = [r[0] for r in conn.execute("SELECT id FROM infrastructure.tacs ORDER BY id")]
        return cls.from_cells(
            [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], tacs
        )

    @property
    def n_regions(self) -> int:
        return len(self.region_pcods)


@dataclass(frozen=True)
class Subscribers:
    """Per-subscriber handset identifiers."""

    msisdn: np.ndarray  # S16
    imsi: np.ndarray  # S15
    imei: np.ndarray  # S16
    tac: np.ndarray  # int64


@dataclass(frozen=True)
class Available:
    """The available cells of a day sorted by region: region r owns positions [start[r], start[r] + count[r])."""

    cells: np.ndarray  # world cell index per position
    start: np.ndarray
    count: np.ndarray

    @classmethod
    def of(cls, world: World, usable: np.ndarray) -> Available:
        order = np.argsort(world.cell_region, kind="stable")
        cells = order[usable[order]]
        count = np.bincount(world.cell_region[cells], minlength=world.n_regions)
        return cls(cells=cells, start=np.cumsum(count) - count, count=count)

    @property
    def total(self) -> int:
        return len(self.cells)

    def outside(self, u: np.ndarray, region: np.ndarray) -> np.ndarray:
        """Positions of uniform draws `u` in [0, 1) among the cells outside each `region`."""
        start, count = self.start[region], self.count[region]
        k = np.minimum((u * (self.total - count)).astype(np.int64), self.total - count - 1)
        return k + np.where(k >= start, count, 0)

    def inside(self, u: np.ndarray, region: np.ndarray) -> np.ndarray:
        """Positions of uniform draws `u` in [0, 1) among the cells of each `region`."""
        count = self.count[region]
        return self.start[region] + np.minimum((u * count).astype(np.int64), count - 1)


def _hex(values: np.ndarray, width: int) -> np.ndarray:
    """The last `width` lowercase hex digits of uint64 values, as S<width> bytes."""
    raw = np.ascontiguousarray(values, dtype=">u8").view(np.uint8).reshape(-1, 8)
    digits = np.empty((len(raw), 16), dtype=np.uint8)
    digits[:, 0::2] = _HEX[raw >> 4]
    digits[:, 1::2] = _HEX[raw & 0xF]
    return np.ascontiguousarray(digits[:, 16 - width :]).view(f"S{width}").reshape(-1)


def _unique_draws(rng: np.random.Generator, n: int, bits: int) -> np.ndarray:
    """n distinct uniform `bits`-bit integers (duplicates redrawn, deterministically)."""
    values = rng.integers(0, 1 << bits, size=n, dtype=np.uint64)
    while True:
        _, first = np.unique(values, return_index=True)
        duplicate = np.ones(n, dtype=bool)
        duplicate[first] = False
        if not duplicate.any():
            return values
        values[duplicate] = rng.integers(0, 1 << bits, size=int(duplicate.sum()), dtype=np.uint64)


def _mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: a bijection of uint64."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def event_ids(seed: int, day_index: int, type_index: int, n: int) -> np.ndarray:
    """n ids (16 hex digits) unique across seeds' days, types and indexes below 2**36 events a day."""
    salt = int(_mix64(np.array([seed & _MASK64], dtype=np.uint64))[0])
    key = np.uint64(((day_index << 40) | (type_index << 36)) ^ salt)
    return _hex(_mix64(np.arange(n, dtype=np.uint64) ^ key), 16)


def make_subscribers(config: SyntheticConfig, world: World) -> Subscribers:
    """Identifiers and handsets of subscribers 0..N-1 from SUBSCRIBERS_SEED."""
    rng = np.random.default_rng((config.subscribers_seed, _IDENTITY))
    n = config.n_subscribers
    return Subscribers(
        msisdn=_hex(_unique_draws(rng, n, 64), 16),
        imsi=_hex(_unique_draws(rng, n, 60), 15),
        imei=_hex(_unique_draws(rng, n, 64), 16),
        tac=world.tacs[rng.integers(0, len(world.tacs), size=n)],
    )


def make_pairs(config: SyntheticConfig) -> tuple[np.ndarray, np.ndarray]:
    """The fixed (caller, callee) pairs, caller != callee."""
    rng = np.random.default_rng((config.subscribers_seed, _PAIRS))
    n = config.n_subscribers
    n_pairs = max(1, config.interactions_multiplier * n)
    caller = rng.integers(0, n, size=n_pairs)
    callee = rng.integers(0, n - 1, size=n_pairs)
    return caller, callee + (callee >= caller)


def _availability(config: SyntheticConfig, world: World) -> tuple[Available, Available, np.ndarray]:
    """Cells available outside and inside the disaster window, and which regions the disaster closes."""
    closed = np.zeros(world.n_regions, dtype=bool)
    if config.disaster_region_pcod is not None:
        closed = world.region_admin2 == config.disaster_region_pcod
    normal = Available.of(world, np.ones(len(world.cell_ids), dtype=bool))
    disaster = Available.of(world, ~closed[world.cell_region])
    if any(config.in_disaster(day) for day in config.dates) and disaster.total == 0:
        raise FlowDBError("the disaster region holds every cell: nowhere is left to relocate to")
    return normal, disaster, closed


def iter_homes(config: SyntheticConfig, world: World) -> Iterator[np.ndarray]:
    """Each day's home region of every subscriber, day by day."""
    normal, disaster, closed = _availability(config, world)
    n = config.n_subscribers
    home = np.zeros(n, dtype=np.int64)
    for k, day in enumerate(config.dates):
        rng = np.random.default_rng((config.subscribers_seed, _HOMES, k))
        avail = disaster if config.in_disaster(day) else normal
        if k == 0:
            home = world.cell_region[rng.integers(0, len(world.cell_ids), size=n)]
        else:
            moving = np.flatnonzero(rng.random(n) < config.p_relocate)
            home[moving] = _relocate(rng, world, avail, home[moving])
        if avail is disaster:
            stuck = np.flatnonzero(closed[home])
            home[stuck] = _relocate(rng, world, avail, home[stuck])
        yield home.copy()


def _relocate(
    rng: np.random.Generator, world: World, avail: Available, home: np.ndarray
) -> np.ndarray:
    """The region of a uniformly random available cell outside each home (home kept when there is none)."""
    u = rng.random(len(home))
    can = avail.count[home] < avail.total
    target = home.copy()
    target[can] = world.cell_region[avail.cells[avail.outside(u[can], home[can])]]
    return target


def daily_homes(config: SyntheticConfig, world: World) -> np.ndarray:
    """(n_days, N) home regions, for inspection and tests."""
    return np.stack(list(iter_homes(config, world)))


def _place(
    rng: np.random.Generator, avail: Available, home: np.ndarray, p_out: float
) -> np.ndarray:
    """A cell for each event of a subscriber living in `home` (world cell indexes)."""
    u_area, u_pick = rng.random(len(home)), rng.random(len(home))
    count = avail.count[home]
    inside = (count > 0) & ((u_area >= p_out) | (count == avail.total))
    position = np.where(
        inside,
        avail.inside(u_pick, home),
        avail.outside(u_pick, home),
    )
    return avail.cells[position]


def _interleave(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.empty(2 * len(a), dtype=a.dtype)
    out[0::2], out[1::2] = a, b
    return out


@dataclass(frozen=True)
class _Day:
    """Everything one (day, type) job needs."""

    config: SyntheticConfig
    world: World
    subs: Subscribers
    avail: Available
    home: np.ndarray
    day_index: int
    day: dt.date
    cdr_type: str

    def rng(self) -> np.random.Generator:
        return np.random.default_rng(
            (self.config.calls_seed, self.day_index, TYPE_INDEX[self.cdr_type])
        )

    def times(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Sorted whole-second times within the day, as microseconds since 2000-01-01."""
        seconds = np.sort(rng.integers(0, SECONDS_PER_DAY, size=n))
        return pb.micros_since_pg_epoch(self.day) + seconds * 1_000_000

    def ids(self, n: int) -> np.ndarray:
        return event_ids(self.config.calls_seed, self.day_index, TYPE_INDEX[self.cdr_type], n)

    def place(self, rng: np.random.Generator, who: np.ndarray) -> np.ndarray:
        return _place(rng, self.avail, self.home[who], self.config.p_out_of_area)

    def handset(self, who: np.ndarray, cells: np.ndarray) -> list[pb.Column]:
        return [
            pb.text("msisdn", self.subs.msisdn[who]),
            pb.text("location_id", self.world.cell_ids[cells]),
            pb.text("imsi", self.subs.imsi[who]),
            pb.text("imei", self.subs.imei[who]),
            pb.numeric("tac", self.subs.tac[who], ndigits=2),
            pb.null("operator_code"),
            pb.null("country_code"),
        ]


def _two_row_columns(d: _Day, pairs: tuple[np.ndarray, np.ndarray], n: int) -> list[pb.Column]:
    """Calls or sms: one outgoing and one incoming row per event."""
    rng = d.rng()
    times = d.times(rng, n)
    pair = rng.integers(0, len(pairs[0]), size=n)
    caller, callee = pairs[0][pair], pairs[1][pair]
    duration = rng.integers(0, 2601, size=n) if d.cdr_type == "calls" else None
    cells = _interleave(d.place(rng, caller), d.place(rng, callee))
    who, other = _interleave(caller, callee), _interleave(callee, caller)
    columns = [
        pb.text("id", np.repeat(d.ids(n), 2)),
        pb.boolean("outgoing", np.tile(np.array([True, False]), n)),
        pb.timestamptz("datetime", np.repeat(times, 2)),
    ]
    if duration is not None:
        columns.append(pb.numeric("duration", np.repeat(duration, 2), ndigits=1))
    columns += [pb.null("network"), pb.text("msisdn_counterpart", d.subs.msisdn[other])]
    return columns + d.handset(who, cells)


def _mds_columns(d: _Day, n: int) -> list[pb.Column]:
    rng = d.rng()
    times = d.times(rng, n)
    who = rng.integers(0, d.config.n_subscribers, size=n)
    duration = rng.integers(0, 261, size=n)
    upload = rng.integers(0, 100_001, size=n)
    download = rng.integers(0, 100_001, size=n)
    return [
        pb.text("id", d.ids(n)),
        pb.timestamptz("datetime", times),
        pb.numeric("duration", duration, ndigits=1),
        pb.numeric("volume_total", upload + download, ndigits=2),
        pb.numeric("volume_upload", upload, ndigits=2),
        pb.numeric("volume_download", download, ndigits=2),
        *d.handset(who, d.place(rng, who)),
    ]


def _topups_columns(d: _Day, n: int) -> list[pb.Column]:
    rng = d.rng()
    times = d.times(rng, n)
    who = rng.integers(0, d.config.n_subscribers, size=n)
    amount = RECHARGE_AMOUNTS[rng.integers(0, len(RECHARGE_AMOUNTS), size=n)]
    tax = amount // 10
    pre = rng.integers(0, 5001, size=n)
    return [
        pb.text("id", d.ids(n)),
        pb.timestamptz("datetime", times),
        pb.text("type", np.full(n, b"recharge", dtype="S8")),
        pb.numeric("recharge_amount", amount, ndigits=1),
        pb.numeric("airtime_fee", np.zeros(n, dtype=np.int64), ndigits=1),
        pb.numeric("tax_and_fee", tax, ndigits=1),
        pb.numeric("pre_event_balance", pre, ndigits=1),
        pb.numeric("post_event_balance", pre + amount - tax, ndigits=2),
        *d.handset(who, d.place(rng, who)),
    ]


def _counts(config: SyntheticConfig) -> dict[str, int]:
    return {t: n for t, n in config.events_per_day.items() if n > 0}


@dataclass(frozen=True)
class Batch:
    """One (day, type) ready to COPY: its column names, the encoded tuples and the location ids they use."""

    cdr_type: str
    day: dt.date
    rows: int
    names: list[str]
    parts: list[np.ndarray]
    location_ids: list[str]
    seconds: float


def iter_batches(config: SyntheticConfig, world: World) -> Iterator[Batch]:
    """Every (day, type) in loading order, generated and encoded."""
    counts = _counts(config)
    subs = make_subscribers(config, world)
    pairs = make_pairs(config) if {"calls", "sms"} & counts.keys() else (np.zeros(0), np.zeros(0))
    normal, disaster, _ = _availability(config, world)
    for k, (day, home) in enumerate(zip(config.dates, iter_homes(config, world), strict=True)):
        avail = disaster if config.in_disaster(day) else normal
        for cdr_type, n in counts.items():
            started = time.monotonic()
            d = _Day(config, world, subs, avail, home, k, day, cdr_type)
            if cdr_type in TWO_ROW_TYPES:
                columns = _two_row_columns(d, pairs, n)
            elif cdr_type == "mds":
                columns = _mds_columns(d, n)
            else:
                columns = _topups_columns(d, n)
            parts = pb.encode_tuples(columns)
            rows = sum(len(p) for p in parts)
            names = [c.name for c in columns]
            used = location_ids_of(columns)
            yield Batch(cdr_type, day, rows, names, parts, used, time.monotonic() - started)


def location_ids_of(columns: list[pb.Column]) -> list[str]:
    """The distinct location ids of a batch's rows (so loading need not read the day back for them)."""
    values = next(c.values for c in columns if c.name == "location_id")
    return [] if values is None else [v.decode() for v in np.unique(values)]


def _load(
    conn: psycopg.Connection,
    batch: Batch,
    indexes: tuple[str, ...],
    *,
    qa_checks: bool = False,
    files: OperatorFiles | None = None,
) -> float:
    """COPY one batch into its day partition; with `qa_checks`, record the day's default QA checks in the
    same transaction. A day of `files` is written as an operator file instead. Returns the seconds the QA
    checks took."""
    exported = files if files is not None and batch.day in files.days else None
    sink = (
        day_file(conn, batch.cdr_type, batch.day, exported)
        if exported is not None
        else day_partition(
            conn,
            batch.cdr_type,
            batch.day,
            indexes=indexes,
            analyze=False,
            location_ids=lambda: batch.location_ids,
        )
    )
    with conn.transaction():
        with sink as table:
            with (
                conn.cursor() as cur,
                cur.copy(pb.copy_statement(table, batch.names, freeze=True)) as copy,
            ):
                for chunk in pb.iter_chunks(batch.parts):
                    copy.write(chunk)
        started = time.monotonic()
        if qa_checks and exported is None:
            record_default_checks(conn, batch.cdr_type, batch.day)
    return time.monotonic() - started


def generate_python(
    conn: psycopg.Connection,
    config: SyntheticConfig,
    world: World,
    *,
    progress: Progress | None = None,
    connect: ConnectionFactory | None = None,
    loaders: int = 2,
    files: OperatorFiles | None = None,
) -> dict[str, int]:
    """Generate and load every day and type; return the rows loaded per type (types with events only; the
    days of `files` are written as operator files instead, and not counted).

    The main thread generates batch k+1 while batch k is COPYed and indexed. With `connect` (a factory of
    superuser connections), up to `loaders` batches load at once, on `conn` and loaders - 1 new
    connections, so one partition's indexes and ANALYZE overlap another's COPY.
    """
    say = progress or (lambda message: None)
    totals = dict.fromkeys(_counts(config), 0)
    idle: queue.SimpleQueue[psycopg.Connection] = queue.SimpleQueue()
    idle.put(conn)
    extra = [connect() for _ in range(loaders - 1)] if connect is not None else []
    for c in extra:
        idle.put(c)
    lock = threading.Lock()

    def load(batch: Batch) -> None:
        c = idle.get()
        try:
            started = time.monotonic()
            qa = _load(
                c,
                batch,
                config.index_columns,
                qa_checks=not config.skip_test_qa_check,
                files=files,
            )
        finally:
            idle.put(c)
        exported = files if files is not None and batch.day in files.days else None
        with lock:
            if exported is None:
                totals[batch.cdr_type] += batch.rows
            done = sum(totals.values())
        checked = (
            "" if config.skip_test_qa_check or exported is not None else f", QA checks {qa:.1f} s"
        )
        where = (
            f"written to {exported.path(batch.cdr_type, batch.day)}"
            if exported is not None
            else "loaded"
        )
        say(
            f"{batch.cdr_type} {batch.day}: {batch.rows:,} rows, generated in {batch.seconds:.1f} s, "
            f"{where} in {time.monotonic() - started:.1f} s{checked} ({done:,} rows so far)"
        )

    try:
        with ThreadPoolExecutor(1 + len(extra), thread_name_prefix="flowdb-load") as pool:
            pending: deque[Future[None]] = deque()
            for batch in iter_batches(config, world):
                while len(pending) > len(extra):
                    pending.popleft().result()
                pending.append(pool.submit(load, batch))
            for future in pending:
                future.result()
    finally:
        for c in extra:
            c.close()
    return totals
