"""The SQL generator: events made inside PostgreSQL, for large volumes (FlowKit's SYNTHETIC_DATA_GENERATOR=sql).

Python only orchestrates; every row is made inside PostgreSQL, by the native function (native/flowdb_synthetic.c,
the default where it can be built) or by set-based SQL expressions, which compute the same rows. The model:

* Every cell belongs to the admin3 unit it lies in: those units with cells are the *regions*.
* A subscriber has one handset (msisdn, imsi, imei, tac) and a home region: on the first day the region of a
  uniformly random cell, so homes are spread like the cells. Each following day a subscriber relocates to
  another region with probability P_RELOCATE.
* Mass relocation: on days within [DISASTER_START, DISASTER_END] no cell of the admin2 unit
  DISASTER_REGION_PCOD is available; on the first such day everyone living there relocates, and nobody
  relocates into it while the window lasts. Nobody moves back on their own afterwards.
* An event happens at a uniformly random available cell of the subscriber's home region with probability
  1 - P_OUT_OF_AREA, otherwise at a uniformly random available cell *outside* it, so the out-of-home share of
  events is P_OUT_OF_AREA exactly in expectation.
* Calls and sms pick one of INTERACTIONS_MULTIPLIER x N_SUBSCRIBERS fixed (caller, callee) pairs and are
  written in FlowKit's two-row format. Times are whole seconds, uniform over the day.

Available cells of a day are numbered by position, sorted by region, so a region is a contiguous range
[lo, lo + cnt) and "a cell outside the home region" is one uniform draw that skips that range.

Randomness is counter-based: the k-th variate of a stream is a hash of (k, stream seed), with stream seeds
derived from the configured seeds, the day and the type. No row depends on execution order, so the same seeds
and sizes give the same rows whatever the plan, and jobs (one per type and day) run on one connection per core.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
from psycopg import sql

from flowdb.errors import FlowDBError
from flowdb.qa import record_default_checks
from flowdb.rows import scalar
from flowdb.synthetic.config import SyntheticConfig
from flowdb.synthetic.loading import day_partition
from flowdb.synthetic.operator_files import OperatorFiles, day_file

SCRATCH = "synthetic_scratch"
Progress = Callable[[str], None]
ConnectionFactory = Callable[[], psycopg.Connection]


def stream_seed(*parts: int | str) -> int:
    """A signed 64-bit seed for one random stream, derived from its parts."""
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _ident(name: str) -> sql.Identifier:
    return sql.Identifier(SCRATCH, name)


SETUP_SQL = f"""
DROP SCHEMA IF EXISTS {SCRATCH} CASCADE;
CREATE SCHEMA {SCRATCH};

-- The k-th uniform variate in [0, 1) of the stream with seed s.
CREATE FUNCTION {SCRATCH}.u(k BIGINT, s BIGINT) RETURNS DOUBLE PRECISION
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (hashint8extended(k, s) & 281474976710655)::double precision / 281474976710656.0
$$;

-- The k-th integer of the stream with seed s, uniform on [0, n) for n far below 2^48 (integer arithmetic only).
CREATE FUNCTION {SCRATCH}.ri(k BIGINT, s BIGINT, n BIGINT) RETURNS BIGINT
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (hashint8extended(k, s) & 281474976710655) % n
$$;

-- The position of a cell for one event: in the home range with probability 1 - p_out, else outside it.
CREATE FUNCTION {SCRATCH}.pick_pos(lo INT, cnt INT, n INT, u_area DOUBLE PRECISION, u_pick DOUBLE PRECISION,
                                   p_out DOUBLE PRECISION)
RETURNS INT LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN cnt > 0 AND (u_area >= p_out OR n = cnt) THEN lo + floor(u_pick * cnt)::int
        ELSE floor(u_pick * (n - cnt))::int
             + CASE WHEN floor(u_pick * (n - cnt))::int >= lo THEN cnt ELSE 0 END
    END
$$;
"""


def _setup(conn: psycopg.Connection, config: SyntheticConfig, cell_regions_sql: str) -> None:
    """Scratch tables: cells by region, availability regimes, subscribers, pairs and daily homes."""
    conn.execute(SETUP_SQL)
    # Cells with their region (admin3) and admin2, numbered by region so each region is a contiguous range.
    conn.execute(
        sql.SQL(
            """CREATE UNLOGGED TABLE {cells} AS
               SELECT row_number() OVER (ORDER BY r.admin3pcod, r.cell_id)::int - 1 AS idx,
                      r.cell_id, r.admin2pcod,
                      dense_rank() OVER (ORDER BY r.admin3pcod)::int - 1 AS region
               FROM ({cell_regions}) r WHERE r.version = 0"""
        ).format(cells=_ident("cells"), cell_regions=sql.SQL(cell_regions_sql))  # trusted constant
    )
    n_cells = scalar(conn.execute(sql.SQL("SELECT count(*) FROM {}").format(_ident("cells"))))
    if n_cells == 0:
        raise FlowDBError("no cell lies inside the geography: cannot place any event")
    if config.disaster_region_pcod is not None:
        found = conn.execute(
            "SELECT 1 FROM geography.admin2 WHERE admin2pcod = %s", (config.disaster_region_pcod,)
        ).fetchone()
        if not found:
            some = scalar(
                conn.execute(
                    "SELECT string_agg(admin2pcod, ', ' ORDER BY admin2pcod) FROM "
                    "(SELECT admin2pcod FROM geography.admin2 ORDER BY admin2pcod LIMIT 5) s"
                )
            )
            raise FlowDBError(
                f"DISASTER_REGION_PCOD {config.disaster_region_pcod!r} is not an admin2 pcod "
                f"(for example: {some})"
            )
    # Regime 0: every cell; regime 1: the disaster window, without the disaster admin2's cells.
    conn.execute(
        sql.SQL(
            """CREATE UNLOGGED TABLE {avail} AS
               SELECT regime, (row_number() OVER (PARTITION BY regime ORDER BY idx) - 1)::int AS pos,
                      idx, cell_id, region
               FROM {cells}, (VALUES (0), (1)) AS g(regime)
               WHERE regime = 0 OR admin2pcod IS DISTINCT FROM %(region)s"""
        ).format(avail=_ident("avail"), cells=_ident("cells")),
        {"region": config.disaster_region_pcod},
    )
    conn.execute(
        sql.SQL(
            """CREATE UNLOGGED TABLE {ranges} AS
               SELECT g.regime, r.region,
                      coalesce(min(a.pos), 0)::int AS lo, count(a.pos)::int AS cnt,
                      (SELECT count(*) FROM {avail} x WHERE x.regime = g.regime)::int AS n
               FROM (VALUES (0), (1)) AS g(regime)
               CROSS JOIN (SELECT DISTINCT region FROM {cells}) r
               LEFT JOIN {avail} a ON a.regime = g.regime AND a.region = r.region
               GROUP BY g.regime, r.region"""
        ).format(ranges=_ident("ranges"), avail=_ident("avail"), cells=_ident("cells"))
    )
    if config.disaster_region_pcod is not None:
        left = scalar(
            conn.execute(
                sql.SQL("SELECT count(*) FROM {} WHERE regime = 1").format(_ident("avail"))
            )
        )
        if left == 0:
            raise FlowDBError(
                "the disaster region holds every cell: nowhere is left to relocate to"
            )

    if scalar(conn.execute("SELECT count(*) FROM infrastructure.tacs")) == 0:
        raise FlowDBError("infrastructure.tacs is empty: every subscriber needs a handset model")
    bad = conn.execute(
        sql.SQL("SELECT cell_id FROM {} WHERE cell_id !~ '^[0-9a-f]{{1,8}}$' LIMIT 1").format(
            _ident("cells")
        )
    ).fetchone()
    if bad:
        raise FlowDBError(f"the SQL generator needs cell ids of up to 8 hex digits, got {bad[0]!r}")
    # Identities are 64-bit hashes of the subscriber number: distinct in practice, checked here.
    clash = scalar(
        conn.execute(
            """SELECT count(*) - count(DISTINCT hashint8extended(sid, %s))
           FROM generate_series(0::bigint, %s - 1) AS sid""",
            (stream_seed(config.subscribers_seed, "msisdn"), config.n_subscribers),
        )
    )
    if clash:
        raise FlowDBError(
            f"SUBSCRIBERS_SEED {config.subscribers_seed} gives two subscribers one msisdn: "
            "choose another seed"
        )
    for table in ("cells", "avail", "ranges"):
        conn.execute(sql.SQL("ANALYZE {}").format(_ident(table)))
    _homes(conn, config)


def _homes(conn: psycopg.Connection, config: SyntheticConfig) -> None:
    """homes_<k>(sid, region): where everyone lives on day k, a Markov chain over the days."""
    for k, day in enumerate(config.dates):
        regime = 1 if config.in_disaster(day) else 0
        table = _ident(f"homes_{k}")
        if k == 0:
            # The region of a uniformly random available cell.
            conn.execute(
                sql.SQL(
                    """CREATE UNLOGGED TABLE {table} AS
                       SELECT s.sid, a.region
                       FROM (SELECT sid, floor({u}(sid, %(stream)s) * r.n)::int AS pos
                             FROM generate_series(0, %(nsubs)s - 1) sid,
                                  (SELECT n FROM {ranges} WHERE regime = %(regime)s LIMIT 1) r) s
                       JOIN {avail} a ON a.regime = %(regime)s AND a.pos = s.pos"""
                ).format(
                    table=table, u=_ident("u"), ranges=_ident("ranges"), avail=_ident("avail")
                ),
                {
                    "regime": regime,
                    "nsubs": config.n_subscribers,
                    "stream": stream_seed(config.subscribers_seed, "home", 0),
                },
            )
        else:
            # Move with probability p, or by force when home has no available cell, to a cell outside home.
            conn.execute(
                sql.SQL(
                    """CREATE UNLOGGED TABLE {table} AS
                       SELECT m.sid, CASE WHEN m.moves THEN a.region ELSE m.region END AS region
                       FROM (SELECT h.sid, h.region,
                                    r.cnt = 0 OR (r.n > r.cnt AND {u}(h.sid, %(move)s) < %(p)s) AS moves,
                                    {scratch}.pick_pos(r.lo, r.cnt, r.n, 0.0, {u}(h.sid, %(dest)s), 1.0)
                                        AS pos
                             FROM {previous} h
                             JOIN {ranges} r ON r.regime = %(regime)s AND r.region = h.region) m
                       JOIN {avail} a ON a.regime = %(regime)s AND a.pos = m.pos"""
                ).format(
                    table=table,
                    previous=_ident(f"homes_{k - 1}"),
                    u=_ident("u"),
                    ranges=_ident("ranges"),
                    avail=_ident("avail"),
                    scratch=sql.Identifier(SCRATCH),
                ),
                {
                    "regime": regime,
                    "p": config.p_relocate,
                    "move": stream_seed(config.subscribers_seed, "move", k),
                    "dest": stream_seed(config.subscribers_seed, "dest", k),
                },
            )
        conn.execute(sql.SQL("ANALYZE {}").format(table))


# Identities are hashes of the subscriber number: hex strings like the python generator's. `| MIN_INT8` sets
# the top bit, so to_hex always gives 16 digits without lpad; an imsi keeps 60 bits and sets bit 56, which
# gives 15 digits without substr (a substr of text walks characters in a UTF-8 database).
MIN_INT8 = -(2**63)
LOW_60_BITS = 2**60 - 1
BIT_56 = 2**56
# Every random draw is a hash slice: ri(k, s, n) is uniform on [0, n) for any n far below 2**48. Where one
# event needs two draws, both come from one hash: the low 24 bits and the 40 bits above them.
RANDOM_RANGE = 2**48
AREA_RANGE = 2**24

# The handset of subscriber x, from per-run seeds.
HANDSET_COLUMNS = """
    to_hex(hashint8extended(x, %(s_msisdn)s) | %(min_int8)s) AS msisdn,
    to_hex((hashint8extended(x, %(s_imsi)s) & %(low60)s) | %(bit56)s) AS imsi,
    to_hex(hashint8extended(x, %(s_imei)s) | %(min_int8)s) AS imei,
    (%(tacs)s::int[])[1 + {ri}(x, %(s_tac)s, %(n_tacs)s)] AS tac"""

# Where an event happens, from its subscriber's home range [lo, lo + cnt) packed in `home` and its hash
# `h_loc`: with probability 1 - p_out (the low 24 bits below p_out * 2**24 mean "away") a uniformly random
# cell of the home range, else a uniformly random cell outside it (the 40 bits above pick the cell).
LOCATION = """lpad(to_hex((%(cells)s::bigint[])[1 + CASE
        WHEN home & 4294967295 > 0
             AND ((h_loc & 16777215) >= %(p_out)s OR %(n_avail)s = home & 4294967295)
        THEN (home >> 32) + ((h_loc >> 24) & 1099511627775) %% (home & 4294967295)
        ELSE ((h_loc >> 24) & 1099511627775) %% (%(n_avail)s - (home & 4294967295))
             + CASE WHEN ((h_loc >> 24) & 1099511627775) %% (%(n_avail)s - (home & 4294967295))
                         >= home >> 32
                    THEN home & 4294967295 ELSE 0 END
    END]), 8, '0')"""

# Rows of one job, innermost first; every "OFFSET 0" fences off a level so that columns used many times
# above it (the subscriber, the home range, the hashes) are computed once per row, not once per use.
# Calls and sms: row r is side r & 1 (0: outgoing) of event r >> 1, which picks one of the fixed pairs; both
# rows of an event share its time and duration (one hash of e: 40 bits for the time, 24 for the duration).
PAIRED_INSERT = """
INSERT INTO {t} (id, outgoing, datetime, {duration_col} msisdn, msisdn_counterpart, location_id,
                 imsi, imei, tac)
SELECT id, side = 0, t, {duration_val} msisdn, msisdn_counterpart, {location}, imsi, imei, tac
FROM (
    SELECT to_hex(%(id_base)s | e) AS id, side,
           to_timestamp(%(epoch)s + (h_t & 1099511627775) %% 86400) AS t,
           ((h_t >> 40) & 16777215)::int %% 2601 AS dur,
           (%(homes)s::bigint[])[1 + x] AS home, h_loc,
           to_hex(hashint8extended(y, %(s_msisdn)s) | %(min_int8)s) AS msisdn_counterpart,
           {handset}
    FROM (
        SELECT e, side, x, y, hashint8extended(e, %(s1)s) AS h_t,
               hashint8extended(e, CASE WHEN side = 0 THEN %(s4)s ELSE %(s6)s END) AS h_loc
        FROM (
            SELECT e, side, CASE WHEN side = 0 THEN caller ELSE callee END AS x,
                   CASE WHEN side = 0 THEN callee ELSE caller END AS y
            FROM (
                SELECT e, side, caller,
                       (caller + 1 + {ri}(pair, %(pair_b)s, %(n_subs)s - 1)) %% %(n_subs)s AS callee
                FROM (
                    SELECT e, side, pair, {ri}(pair, %(pair_a)s, %(n_subs)s) AS caller
                    FROM (SELECT r >> 1 AS e, (r & 1)::int AS side,
                                 {ri}(r >> 1, %(s3)s, %(n_pairs)s) AS pair
                          FROM generate_series(0::bigint, 2 * %(n)s - 1) AS r) p
                ) q
            ) s
            OFFSET 0
        ) a
        OFFSET 0
    ) b
    OFFSET 0
) c
"""

# mds and topups: one row per event, of a uniformly random subscriber.
SINGLE_SOURCE = """
FROM (
    SELECT to_hex(%(id_base)s | e) AS id,
           to_timestamp(%(epoch)s + {ri}(e, %(s1)s, 86400)) AS t,
           {ri}(e, %(s2)s, %(v1_range)s) AS v1, {ri}(e, %(s6)s, %(v2_range)s) AS v2,
           {ri}(e, %(s7)s, %(v3_range)s) AS v3,
           (%(homes)s::bigint[])[1 + x] AS home, hashint8extended(e, %(s4)s) AS h_loc,
           {handset}
    FROM (SELECT e, {ri}(e, %(s3)s, %(n_subs)s) AS x
          FROM generate_series(0::bigint, %(n)s - 1) AS e
          OFFSET 0) s
    OFFSET 0
) c
"""

# mds: v1 duration in [0, 260] s, v2 and v3 upload and download volumes in [0, 100000].
MDS_INSERT = """
INSERT INTO {t} (id, datetime, duration, volume_total, volume_upload, volume_download,
                 msisdn, location_id, imsi, imei, tac)
SELECT id, t, v1::int, v2 + v3, v2::int, v3::int, msisdn, {location}, imsi, imei, tac{source}"""

# topups: v1 picks one of six amounts, v2 the balance before, v3 is unused.
TOPUPS_INSERT = """
INSERT INTO {t} (id, datetime, type, recharge_amount, airtime_fee, tax_and_fee,
                 pre_event_balance, post_event_balance, msisdn, location_id, imsi, imei, tac)
SELECT id, t, 'recharge', amount, 0, amount * 0.1, v2::int, v2 + amount * 0.9,
       msisdn, {location}, imsi, imei, tac
FROM (SELECT *, (ARRAY[50, 100, 200, 500, 1000, 2000])[1 + v1]::numeric AS amount {source}) d"""

# An event's id is 16 hex digits: its type (4 bits, never 0), its day (20 bits) and its number (40 bits).
TYPE_INDEX = {"calls": 1, "sms": 2, "mds": 3, "topups": 4}
VALUE_RANGES = {
    "calls": (1, 1, 1),
    "sms": (1, 1, 1),
    "mds": (261, 100_001, 100_001),
    "topups": (6, 5_001, 1),
}


# The native generator (native/flowdb_synthetic.c) makes the same rows as the expressions above in C, and writes
# them the way COPY does. Its seeds and sizes travel as one bigint[] in this order (the C file's enum
# SyntheticParam). It checks each row against the table's constraints, as COPY does, and returns the location
# ids it used (so they need not be read back from the rows).
NATIVE_PARAMS = (
    "n_pairs", "n_subs", "p_out", "s_msisdn", "s_imsi", "s_imei", "s_tac", "pair_a", "pair_b", "epoch",
    "id_base", "s1", "s2", "s3", "s4", "s6", "s7", "v1_range", "v2_range", "v3_range",
)  # fmt: skip
NATIVE_SIGNATURE = (
    "target REGCLASS, cdr_type TEXT, first BIGINT, count BIGINT, params BIGINT[], homes BIGINT[], "
    "cells BIGINT[], tacs INT[]"
)
NATIVE_SETUP_SQL = f"""
CREATE FUNCTION {SCRATCH}.fill({NATIVE_SIGNATURE}) RETURNS TEXT[]
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE AS {{library}}, 'flowdb_synthetic_fill';
REVOKE ALL ON FUNCTION {SCRATCH}.fill({NATIVE_SIGNATURE}) FROM PUBLIC;
"""
NATIVE_FILL = """SELECT {fill}(%(target)s::regclass, %(cdr_type)s, 0, %(rows)s, %(native)s::bigint[],
                        %(homes)s::bigint[], %(cells)s::bigint[], %(tacs)s::int[])"""


def _insert_statement(cdr_type: str, table: sql.Composable) -> sql.Composed:
    template = {
        "calls": PAIRED_INSERT,
        "sms": PAIRED_INSERT,
        "mds": MDS_INSERT,
        "topups": TOPUPS_INSERT,
    }[cdr_type]
    duration = cdr_type == "calls"
    ri = _ident("ri")
    handset = sql.SQL(HANDSET_COLUMNS).format(ri=ri)
    return sql.SQL(template).format(
        t=table,
        ri=ri,
        location=sql.SQL(LOCATION),
        handset=handset,
        source=sql.SQL(SINGLE_SOURCE).format(ri=ri, handset=handset),
        duration_col=sql.SQL("duration," if duration else ""),
        duration_val=sql.SQL("dur," if duration else ""),
    )


class World:
    """What every job of a run shares: the cells by position, the handset models, and the seeds."""

    def __init__(self, conn: psycopg.Connection, config: SyntheticConfig) -> None:
        self.config = config
        self.cells = {
            regime: cells
            for regime, cells in conn.execute(
                sql.SQL(
                    "SELECT regime, array_agg(('x' || lpad(cell_id, 8, '0'))::bit(32)::bigint "
                    "ORDER BY pos) FROM {} GROUP BY regime"
                ).format(_ident("avail"))
            )
        }
        self.tacs = scalar(
            conn.execute("SELECT array_agg(id::int ORDER BY id) FROM infrastructure.tacs")
        )
        seed = config.subscribers_seed
        self.params: dict[str, int | float | str | list[int]] = {
            "n_pairs": max(1, config.interactions_multiplier * config.n_subscribers),
            "n_subs": config.n_subscribers,
            "p_out": round(config.p_out_of_area * AREA_RANGE),
            "min_int8": MIN_INT8,
            "low60": LOW_60_BITS,
            "bit56": BIT_56,
            "tacs": self.tacs,
            "n_tacs": len(self.tacs),
            "s_msisdn": stream_seed(seed, "msisdn"),
            "s_imsi": stream_seed(seed, "imsi"),
            "s_imei": stream_seed(seed, "imei"),
            "s_tac": stream_seed(seed, "tac"),
            # The calling pairs are fixed: their streams depend on the subscribers' seed only.
            "pair_a": stream_seed(seed, "pair", "caller"),
            "pair_b": stream_seed(seed, "pair", "callee"),
        }

    def homes(self, conn: psycopg.Connection, k: int, day: dt.date) -> str:
        """Everyone's home cell range on day k, packed as lo << 32 | cnt, indexed by subscriber: a `bigint[]`
        in PostgreSQL's text form, handed back to each of the day's jobs as it came. (As a Python list, psycopg
        spends about 1.3 us per element dumping it for every job: 0.26 s a job for 200,000 subscribers.)"""
        regime = 1 if self.config.in_disaster(day) else 0
        return scalar(
            conn.execute(
                sql.SQL(
                    """SELECT array_agg((r.lo::bigint << 32) | r.cnt ORDER BY h.sid)::text
                   FROM {homes} h JOIN {ranges} r ON r.regime = %s AND r.region = h.region"""
                ).format(homes=_ident(f"homes_{k}"), ranges=_ident("ranges")),
                (regime,),
            )
        )


def _generate_day(
    conn: psycopg.Connection,
    world: World,
    cdr_type: str,
    k: int,
    day: dt.date,
    homes: str,
    native: bool = False,
    qa_checks: bool = False,
    files: OperatorFiles | None = None,
) -> tuple[int, float]:
    """Load one day of one type; with `qa_checks`, record its default QA checks in the same transaction.
    A day of `files` is written as an operator file instead (no QA checks: FlowETL records them when it
    ingests the file). Returns the rows and the seconds the QA checks took."""
    config = world.config
    regime = 1 if config.in_disaster(day) else 0
    epoch = int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())
    v1, v2, v3 = VALUE_RANGES[cdr_type]
    params = {
        **world.params,
        "n": config.events_per_day[cdr_type],
        "epoch": epoch,
        "id_base": (TYPE_INDEX[cdr_type] << 60) | (k << 40),
        "cells": world.cells[regime],
        "n_avail": len(world.cells[regime]),
        "homes": homes,
        "v1_range": v1,
        "v2_range": v2,
        "v3_range": v3,
    }
    for stream in range(1, 8):
        params[f"s{stream}"] = stream_seed(config.calls_seed, cdr_type, k, stream)
    used: list[str] = []
    exported = files if files is not None and day in files.days else None
    sink = (
        day_file(conn, cdr_type, day, exported)
        if exported is not None
        else day_partition(
            conn,
            cdr_type,
            day,
            indexes=config.index_columns,
            analyze=False,
            location_ids=(lambda: used) if native else None,
        )
    )
    with conn.transaction():
        with sink as table:
            if native:
                params["native"] = [int(params[name]) for name in NATIVE_PARAMS]
                params["cdr_type"] = cdr_type
                params["target"] = table.as_string(conn)
                rows = config.rows_of(cdr_type)
                params["rows"] = rows
                fill = conn.execute(sql.SQL(NATIVE_FILL).format(fill=_ident("fill")), params)
                used.extend(scalar(fill))
            else:
                rows = conn.execute(_insert_statement(cdr_type, table), params).rowcount
        qa_started = time.monotonic()
        if qa_checks and exported is None:
            record_default_checks(conn, cdr_type, day)
    return rows, time.monotonic() - qa_started


def generate_sql(
    connect: ConnectionFactory,
    config: SyntheticConfig,
    cell_regions_sql: str,
    *,
    workers: int = 2,
    progress: Progress | None = None,
    native_library: str | Path | None = None,
    files: OperatorFiles | None = None,
) -> dict[str, int]:
    """Generate every day and type; return rows loaded per type (the days of `files` are written as
    operator files instead, and not counted). `connect` opens superuser connections. With `native_library`
    (flowdb.synthetic.native) the rows are made in C, else by SQL expressions."""
    say = progress or (lambda message: None)
    started = time.monotonic()
    with connect() as conn:
        _setup(conn, config, cell_regions_sql)
        native = native_library is not None
        if native:
            try:
                conn.execute(
                    sql.SQL(NATIVE_SETUP_SQL).format(library=sql.Literal(str(native_library)))
                )
            except psycopg.Error as exc:
                raise FlowDBError(
                    f"FlowDB cannot load the native generator {native_library}: "
                    f"{exc.diag.message_primary or exc}"
                ) from exc
        world = World(conn, config)
    say(f"subscribers and their homes ready in {time.monotonic() - started:.1f} s")

    counts = config.events_per_day
    jobs = [
        (cdr_type, k, day)
        for k, day in enumerate(config.dates)
        for cdr_type, n in counts.items()
        if n > 0
    ]
    totals = dict.fromkeys(counts, 0)
    lock = threading.Lock()
    local = threading.local()
    opened: list[psycopg.Connection] = []
    # A day's homes are fetched by its first job and dropped after its last.
    homes: dict[int, str] = {}
    day_locks = {k: threading.Lock() for _, k, _ in jobs}
    jobs_left = Counter(k for _, k, _ in jobs)

    def connection() -> psycopg.Connection:
        if not hasattr(local, "conn"):
            local.conn = connect()
            with lock:
                opened.append(local.conn)
        return local.conn

    def homes_of(k: int, day: dt.date) -> str:
        with day_locks[k]:
            if k not in homes:
                homes[k] = world.homes(connection(), k, day)
            return homes[k]

    def run(job: tuple[str, int, dt.date]) -> None:
        cdr_type, k, day = job
        t0 = time.monotonic()
        rows, qa = _generate_day(
            connection(),
            world,
            cdr_type,
            k,
            day,
            homes_of(k, day),
            native,
            qa_checks=not config.skip_test_qa_check,
            files=files,
        )
        exported = files if files is not None and day in files.days else None
        with lock:
            if exported is None:
                totals[cdr_type] += rows
            done = sum(totals.values())
            jobs_left[k] -= 1
            if jobs_left[k] == 0:
                homes.pop(k, None)
        checked = (
            "" if config.skip_test_qa_check or exported is not None else f", QA checks {qa:.1f} s"
        )
        where = f" written to {exported.path(cdr_type, day)}" if exported is not None else ""
        say(
            f"{cdr_type} {day}: {rows:,} rows{where} in {time.monotonic() - t0:.1f} s{checked} "
            f"({done:,} rows so far)"
        )

    try:
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            for future in [pool.submit(run, job) for job in jobs]:
                future.result()
    finally:
        for conn in opened:
            conn.close()
        with connect() as conn:
            conn.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(SCRATCH))
            )
    return {k: v for k, v in totals.items() if counts[k] > 0}
