"""Calls shaped like those of the FlowKit baseline measurement (/work/shared/reference/baseline-flowkit-1.34.md).

The baseline document measured FlowKit on data from its own numpy generator, whose subscribers stay close to
home: each one makes most of their calls from one home cell and a nearby second cell. FlowDB's own Python
generator puts each event at a uniformly random cell of a subscriber's home region, which gives about three
times as many distinct (subscriber, cell) pairs, and many queries' costs grow with that number. This module
follows the baseline's data model so that bench/queries.py times queries on data of the same shape.

Geography, cells and TACs are FlowDB's synthetic world, built as `flowdb.synthetic.run.generate` builds it.
The model on top of it:

* Every cell has a fixed log-normal (sigma 1) population weight. The cells already cluster in the
  infrastructure's 40 weighted towns, so the density of cells carries the large-scale population pattern and
  the weight adds variation between neighbouring cells.
* Each subscriber (identifiers and TAC from FlowDB's `make_subscribers`) has a home cell drawn by population
  weight, a second cell drawn uniformly from the 8 cells nearest to home (by the cells' coordinates; cells of
  the same site count, at distance 0), and a log-normal (sigma 1) activity weight. Sigma 1 reproduces the
  baseline's active-subscriber counts: about 345 of 200,000 idle over S's 7 days, 9% of 2 M idle on L's day.
* Each call draws its caller and its callee by activity weight (caller != callee). Each party is
  independently at their home cell with probability 0.65, their second cell 0.25, or a uniformly random cell
  0.10.
* The hour of a call follows the fixed diurnal profile HOURLY_PROFILE, the second is uniform within the hour;
  durations are exponential with mean 120 s, in whole seconds.
* Calls are written in FlowKit's two-row format (an outgoing row for the caller and an incoming row for the
  callee sharing id, datetime and duration, counterparts mirrored, each row at its own party's cell), sorted
  by time within each day, with the columns and encodings of FlowDB's Python generator.

The subscriber model comes from numpy's default_rng((seed, 0)) and each day's calls from
default_rng((seed, 1, day index)), so the same seed and sizes give the same rows. Each day is one binary COPY
into `day_partition` (not analysed); the next day is generated while the previous ones load on two
connections, and the parent is VACUUMed and ANALYZEd once at the end.
"""

from __future__ import annotations

import queue
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import psycopg

from flowdb.synthetic import pgbinary as pb
from flowdb.synthetic.config import SyntheticConfig
from flowdb.synthetic.loading import analyze_parents
from flowdb.synthetic.python_generator import (
    Batch,
    Subscribers,
    World,
    _interleave,
    _load,
    event_ids,
    location_ids_of,
    make_subscribers,
)
from flowdb.synthetic.run import clear_events

Progress = Callable[[str], None]
ConnectionFactory = Callable[[], psycopg.Connection]

P_HOME, P_SECOND = 0.65, 0.25  # the remaining 0.10: anywhere
N_NEAREST = 8
CELL_WEIGHT_SIGMA = 1.0
ACTIVITY_SIGMA = 1.0
MEAN_DURATION_S = 120.0
MAX_DURATION_S = 9_999  # one base-10000 numeric digit; exceeded with probability e**-83 per call
LOADERS = 2
# Relative call volume by hour of day (UTC): quiet at night, a morning rise, a midday plateau and an
# evening peak.
HOURLY_PROFILE = np.array(
    [
        0.6, 0.35, 0.25, 0.2, 0.25, 0.5, 1.2, 2.5, 3.8, 4.5, 4.8, 5.0,
        5.2, 5.0, 4.8, 4.9, 5.2, 5.6, 6.0, 6.2, 5.8, 4.6, 3.0, 1.5,
    ]
)  # fmt: skip
_MODEL, _CALLS = 0, 1  # rng streams of the seed
_CALLS_TYPE_INDEX = 0  # the calls type index of event_ids, as in FlowDB's Python generator


@dataclass(frozen=True)
class BaselineReport:
    total_rows: int
    seconds: float
    world_seconds: float = 0.0
    events_seconds: float = 0.0
    analyze_seconds: float = 0.0


@dataclass(frozen=True)
class Population:
    """Each subscriber's home cell, second cell (world cell indexes) and the cumulative activity weights."""

    home: np.ndarray
    second: np.ndarray
    activity_cdf: np.ndarray


def cell_coordinates(conn: psycopg.Connection, world: World) -> np.ndarray:
    """(n_cells, 2) lon/lat of each world cell (its lowest version's point), in world order."""
    rows = conn.execute(
        """SELECT DISTINCT ON (id) id, ST_X(geom_point), ST_Y(geom_point)
           FROM infrastructure.cells WHERE geom_point IS NOT NULL ORDER BY id, version"""
    ).fetchall()
    where = {r[0].encode(): (float(r[1]), float(r[2])) for r in rows}
    return np.array([where[c] for c in world.cell_ids], dtype=np.float64)


def nearest_cells(xy: np.ndarray, k: int = N_NEAREST) -> np.ndarray:
    """(n_cells, k) indexes of each cell's k nearest other cells, nearest first (ties by index)."""
    scale = np.cos(np.radians(xy[:, 1].mean()))
    dx = (xy[:, None, 0] - xy[None, :, 0]) * scale
    dy = xy[:, None, 1] - xy[None, :, 1]
    dist = np.hypot(dx, dy)
    np.fill_diagonal(dist, np.inf)
    k = min(k, len(xy) - 1)
    # A stable sort keeps index order among equal distances (cells of one site).
    return np.argsort(dist, axis=1, kind="stable")[:, :k]


def _cdf(weights: np.ndarray) -> np.ndarray:
    cdf = np.cumsum(weights)
    return cdf / cdf[-1]


def _draw(rng: np.random.Generator, cdf: np.ndarray, n: int) -> np.ndarray:
    return np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), len(cdf) - 1)


def make_population(seed: int, n_subscribers: int, neighbours: np.ndarray) -> Population:
    rng = np.random.default_rng((seed, _MODEL))
    n_cells = len(neighbours)
    cell_weight = rng.lognormal(0.0, CELL_WEIGHT_SIGMA, n_cells)
    home = _draw(rng, _cdf(cell_weight), n_subscribers)
    if neighbours.shape[1]:
        second = neighbours[home, rng.integers(0, neighbours.shape[1], n_subscribers)]
    else:
        second = home.copy()
    activity = rng.lognormal(0.0, ACTIVITY_SIGMA, n_subscribers)
    return Population(home=home, second=second, activity_cdf=_cdf(activity))


def _parties(rng: np.random.Generator, pop: Population, n: int) -> tuple[np.ndarray, np.ndarray]:
    caller = _draw(rng, pop.activity_cdf, n)
    callee = _draw(rng, pop.activity_cdf, n)
    while True:
        same = np.flatnonzero(caller == callee)
        if not len(same):
            return caller, callee
        callee[same] = _draw(rng, pop.activity_cdf, len(same))


def _where(rng: np.random.Generator, pop: Population, who: np.ndarray, n_cells: int) -> np.ndarray:
    u = rng.random(len(who))
    anywhere = rng.integers(0, n_cells, len(who))
    return np.where(
        u < P_HOME, pop.home[who], np.where(u < P_HOME + P_SECOND, pop.second[who], anywhere)
    )


def _times(rng: np.random.Generator, day_micros: int, n: int) -> np.ndarray:
    """Sorted call times (microseconds since 2000-01-01): hour by HOURLY_PROFILE, second uniform."""
    hour = _draw(rng, _cdf(HOURLY_PROFILE), n)
    seconds = np.sort(hour * 3600 + rng.integers(0, 3600, n))
    return day_micros + seconds * 1_000_000


def day_columns(
    seed: int,
    day_index: int,
    day_micros: int,
    n: int,
    world: World,
    subs: Subscribers,
    pop: Population,
) -> list[pb.Column]:
    """One day's n calls as 2n rows, in the columns and encodings of FlowDB's Python generator."""
    rng = np.random.default_rng((seed, _CALLS, day_index))
    times = _times(rng, day_micros, n)
    caller, callee = _parties(rng, pop, n)
    n_cells = len(world.cell_ids)
    cells = _interleave(_where(rng, pop, caller, n_cells), _where(rng, pop, callee, n_cells))
    duration = np.minimum(np.rint(rng.exponential(MEAN_DURATION_S, n)), MAX_DURATION_S)
    who, other = _interleave(caller, callee), _interleave(callee, caller)
    return [
        pb.text("id", np.repeat(event_ids(seed, day_index, _CALLS_TYPE_INDEX, n), 2)),
        pb.boolean("outgoing", np.tile(np.array([True, False]), n)),
        pb.timestamptz("datetime", np.repeat(times, 2)),
        pb.numeric("duration", np.repeat(duration.astype(np.int64), 2), ndigits=1),
        pb.null("network"),
        pb.text("msisdn_counterpart", subs.msisdn[other]),
        pb.text("msisdn", subs.msisdn[who]),
        pb.text("location_id", world.cell_ids[cells]),
        pb.text("imsi", subs.imsi[who]),
        pb.text("imei", subs.imei[who]),
        pb.numeric("tac", subs.tac[who], ndigits=2),
        pb.null("operator_code"),
        pb.null("country_code"),
    ]


def iter_batches(
    config: SyntheticConfig, world: World, xy: np.ndarray, seed: int
) -> Iterator[Batch]:
    """Each day's calls, generated and encoded, in date order."""
    subs = make_subscribers(config, world)
    pop = make_population(seed, config.n_subscribers, nearest_cells(xy))
    for k, day in enumerate(config.dates):
        started = time.monotonic()
        columns = day_columns(
            seed, k, pb.micros_since_pg_epoch(day), config.n_calls, world, subs, pop
        )
        parts = pb.encode_tuples(columns)
        rows = sum(len(p) for p in parts)
        names = [c.name for c in columns]
        used = location_ids_of(columns)
        yield Batch("calls", day, rows, names, parts, used, time.monotonic() - started)


def _load_days(
    connect: ConnectionFactory,
    config: SyntheticConfig,
    world: World,
    xy: np.ndarray,
    seed: int,
    say: Progress,
) -> int:
    """Generate and load every day, batch k+1 generated while up to LOADERS batches load."""
    idle: queue.SimpleQueue[psycopg.Connection] = queue.SimpleQueue()
    conns = [connect() for _ in range(LOADERS)]
    for c in conns:
        idle.put(c)
    total = 0

    def load(batch: Batch) -> int:
        c = idle.get()
        try:
            started = time.monotonic()
            _load(c, batch, config.index_columns)
        finally:
            idle.put(c)
        say(
            f"calls {batch.day}: {batch.rows:,} rows, generated in {batch.seconds:.1f} s, "
            f"loaded in {time.monotonic() - started:.1f} s"
        )
        return batch.rows

    try:
        with ThreadPoolExecutor(LOADERS, thread_name_prefix="baseline-load") as pool:
            pending: deque[Future[int]] = deque()
            for batch in iter_batches(config, world, xy, seed):
                while len(pending) >= LOADERS:
                    total += pending.popleft().result()
                pending.append(pool.submit(load, batch))
            for future in pending:
                total += future.result()
    finally:
        for c in conns:
            c.close()
    return total


def load_baseline_dataset(
    connect: ConnectionFactory,
    config: SyntheticConfig,
    *,
    seed: int = 20160101,
    progress: Progress | None = None,
) -> BaselineReport:
    """Replace all events with baseline-shaped calls for `config`'s days, subscribers and n_calls a day.

    `connect` opens autocommit superuser connections. The world (geography, sites, cells, TACs) is rebuilt
    from `config`; only `n_calls` of the event counts is used. On failure every event is removed again.
    """
    from flowdb.synthetic.geography import build_geography
    from flowdb.synthetic.infrastructure import CELL_REGIONS_SQL, build_infrastructure

    say = progress or (lambda message: None)
    started = time.monotonic()
    with connect() as conn:
        clear_events(conn)
        with conn.transaction():
            build_geography(conn, config)
            build_infrastructure(conn, config)
        conn.execute(
            "ANALYZE geography.admin0, geography.admin1, geography.admin2, geography.admin3"
        )
        conn.execute("ANALYZE infrastructure.sites, infrastructure.cells, infrastructure.tacs")
        world = World.from_db(conn, CELL_REGIONS_SQL)
        xy = cell_coordinates(conn, world)
    world_done = time.monotonic()
    say(
        f"world: {len(world.cell_ids):,} cells in {world.n_regions} admin3 units, "
        f"{world_done - started:.1f} s"
    )
    say(
        f"baseline calls: {config.n_days} days x {2 * config.n_calls:,} rows/day "
        f"for {config.n_subscribers:,} subscribers (seed {seed})"
    )
    try:
        total = _load_days(connect, config, world, xy, seed, say)
        events_done = time.monotonic()
        with connect() as conn:
            analyze_parents(conn, ("calls",))
    except BaseException:
        with connect() as conn:
            clear_events(conn)
        raise
    finished = time.monotonic()
    say(f"VACUUM (ANALYZE) events.calls in {finished - events_done:.1f} s")
    return BaselineReport(
        total_rows=total,
        seconds=finished - started,
        world_seconds=world_done - started,
        events_seconds=events_done - world_done,
        analyze_seconds=finished - events_done,
    )
