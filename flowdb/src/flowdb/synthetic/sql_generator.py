"""The SQL generator: events made inside PostgreSQL, for large volumes (FlowKit's SYNTHETIC_DATA_GENERATOR=sql).

Python only orchestrates; every row is made by set-based SQL. The model:

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
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import psycopg
from psycopg import sql

from flowdb.errors import FlowDBError
from flowdb.synthetic.config import SyntheticConfig
from flowdb.synthetic.loading import day_partition

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
    n_cells = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(_ident("cells"))).fetchone()[0]
    if n_cells == 0:
        raise FlowDBError("no cell lies inside the geography: cannot place any event")
    if config.disaster_region_pcod is not None:
        found = conn.execute(
            "SELECT 1 FROM geography.admin2 WHERE admin2pcod = %s", (config.disaster_region_pcod,)
        ).fetchone()
        if not found:
            some = conn.execute(
                "SELECT string_agg(admin2pcod, ', ' ORDER BY admin2pcod) FROM "
                "(SELECT admin2pcod FROM geography.admin2 ORDER BY admin2pcod LIMIT 5) s"
            ).fetchone()[0]
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
        left = conn.execute(
            sql.SQL("SELECT count(*) FROM {} WHERE regime = 1").format(_ident("avail"))
        ).fetchone()[0]
        if left == 0:
            raise FlowDBError(
                "the disaster region holds every cell: nowhere is left to relocate to"
            )

    # One handset per subscriber; identifiers are hashes of the seed and index, the TAC a random model.
    if conn.execute("SELECT count(*) FROM infrastructure.tacs").fetchone()[0] == 0:
        raise FlowDBError("infrastructure.tacs is empty: every subscriber needs a handset model")
    conn.execute(
        sql.SQL(
            """CREATE UNLOGGED TABLE {subs} AS
               WITH t AS (SELECT row_number() OVER (ORDER BY id)::int - 1 AS k, id FROM infrastructure.tacs),
                    n AS (SELECT count(*)::int AS n FROM t)
               SELECT s.sid,
                      substr(md5(%(seed)s || ':msisdn:' || s.sid), 1, 16) COLLATE "C" AS msisdn,
                      substr(md5(%(seed)s || ':imsi:' || s.sid), 1, 15) COLLATE "C" AS imsi,
                      substr(md5(%(seed)s || ':imei:' || s.sid), 1, 16) COLLATE "C" AS imei,
                      t.id AS tac
               FROM (SELECT sid, floor({u}(sid, %(tac_stream)s) * (SELECT n FROM n))::int AS k
                     FROM generate_series(0, %(n)s - 1) AS sid) s
               JOIN t ON t.k = s.k"""
        ).format(subs=_ident("subs"), u=_ident("u")),
        {
            "seed": str(config.subscribers_seed),
            "n": config.n_subscribers,
            "tac_stream": stream_seed(config.subscribers_seed, "tac"),
        },
    )
    conn.execute(sql.SQL("ALTER TABLE {} ADD PRIMARY KEY (sid)").format(_ident("subs")))
    for table in ("cells", "avail", "ranges", "subs"):
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


def _day_subscribers(
    conn: psycopg.Connection, config: SyntheticConfig, k: int, day: dt.date
) -> None:
    """day_subs_<k>: each subscriber's handset and the cell range of their home on that day."""
    regime = 1 if config.in_disaster(day) else 0
    table = _ident(f"day_subs_{k}")
    conn.execute(
        sql.SQL(
            """CREATE UNLOGGED TABLE {table} AS
               SELECT s.sid, s.msisdn, s.imsi, s.imei, s.tac, r.lo, r.cnt, r.n
               FROM {subs} s
               JOIN {homes} h ON h.sid = s.sid
               JOIN {ranges} r ON r.regime = %(regime)s AND r.region = h.region"""
        ).format(
            table=table, subs=_ident("subs"), homes=_ident(f"homes_{k}"), ranges=_ident("ranges")
        ),
        {"regime": regime},
    )
    conn.execute(sql.SQL("ALTER TABLE {} ADD PRIMARY KEY (sid)").format(table))
    conn.execute(sql.SQL("ANALYZE {}").format(table))


# One INSERT per (type, day) into the staging table {t}; {subs} is the day's subscribers, {avail} the cells.
# %(s1)s ... are the seeds of this job's random streams; g counts the events of the job.
PAIRED_INSERT = """
INSERT INTO {t} (id, outgoing, datetime, {duration_col} msisdn, msisdn_counterpart, location_id, imsi, imei, tac)
SELECT c.id, o.outgoing, c.t, {duration_val}
       CASE WHEN o.outgoing THEN c.a_msisdn ELSE c.b_msisdn END,
       CASE WHEN o.outgoing THEN c.b_msisdn ELSE c.a_msisdn END,
       CASE WHEN o.outgoing THEN va.cell_id ELSE vb.cell_id END,
       CASE WHEN o.outgoing THEN c.a_imsi ELSE c.b_imsi END,
       CASE WHEN o.outgoing THEN c.a_imei ELSE c.b_imei END,
       CASE WHEN o.outgoing THEN c.a_tac ELSE c.b_tac END
FROM (
    SELECT r.id, r.t, r.dur,
           a.msisdn AS a_msisdn, a.imsi AS a_imsi, a.imei AS a_imei, a.tac AS a_tac,
           b.msisdn AS b_msisdn, b.imsi AS b_imsi, b.imei AS b_imei, b.tac AS b_tac,
           {scratch}.pick_pos(a.lo, a.cnt, a.n, {u}(r.g, %(s4)s), {u}(r.g, %(s5)s), %(p_out)s) AS pos_a,
           {scratch}.pick_pos(b.lo, b.cnt, b.n, {u}(r.g, %(s6)s), {u}(r.g, %(s7)s), %(p_out)s) AS pos_b
    FROM (SELECT p.g, %(prefix)s || lpad(to_hex(p.g), 12, '0') AS id,
                 to_timestamp(%(epoch)s + floor({u}(p.g, %(s1)s) * 86400)) AS t,
                 floor({u}(p.g, %(s2)s) * 2601)::int AS dur,
                 p.caller,
                 (p.caller + 1 + floor({u}(p.pair, %(pair_b)s) * (%(n_subs)s - 1))::int) %% %(n_subs)s AS callee
          FROM (SELECT q.g, q.pair, floor({u}(q.pair, %(pair_a)s) * %(n_subs)s)::int AS caller
                FROM (SELECT g, floor({u}(g, %(s3)s) * %(n_pairs)s)::bigint AS pair
                      FROM generate_series(0::bigint, %(n)s - 1) AS g) q) p) r
    JOIN {subs} a ON a.sid = r.caller
    JOIN {subs} b ON b.sid = r.callee
) c
JOIN {avail} va ON va.regime = %(regime)s AND va.pos = c.pos_a
JOIN {avail} vb ON vb.regime = %(regime)s AND vb.pos = c.pos_b
CROSS JOIN (VALUES (true), (false)) AS o(outgoing)
"""

MDS_INSERT = """
INSERT INTO {t} (id, datetime, duration, volume_total, volume_upload, volume_download,
                 msisdn, location_id, imsi, imei, tac)
SELECT c.id, c.t, c.dur, c.up + c.down, c.up, c.down, c.msisdn, v.cell_id, c.imsi, c.imei, c.tac
FROM (
    SELECT r.id, r.t, r.dur, r.up, r.down, a.msisdn, a.imsi, a.imei, a.tac,
           {scratch}.pick_pos(a.lo, a.cnt, a.n, {u}(r.g, %(s4)s), {u}(r.g, %(s5)s), %(p_out)s) AS pos
    FROM (SELECT g, %(prefix)s || lpad(to_hex(g), 12, '0') AS id,
                 to_timestamp(%(epoch)s + floor({u}(g, %(s1)s) * 86400)) AS t,
                 floor({u}(g, %(s2)s) * 261)::int AS dur,
                 floor({u}(g, %(s6)s) * 100001)::int AS up, floor({u}(g, %(s7)s) * 100001)::int AS down,
                 floor({u}(g, %(s3)s) * %(n_subs)s)::int AS sid
          FROM generate_series(0::bigint, %(n)s - 1) AS g) r
    JOIN {subs} a ON a.sid = r.sid
) c
JOIN {avail} v ON v.regime = %(regime)s AND v.pos = c.pos
"""

TOPUPS_INSERT = """
INSERT INTO {t} (id, datetime, type, recharge_amount, airtime_fee, tax_and_fee,
                 pre_event_balance, post_event_balance, msisdn, location_id, imsi, imei, tac)
SELECT c.id, c.t, 'recharge', c.amount, 0, c.amount * 0.1, c.pre, c.pre + c.amount * 0.9,
       c.msisdn, v.cell_id, c.imsi, c.imei, c.tac
FROM (
    SELECT r.id, r.t, r.amount, r.pre, a.msisdn, a.imsi, a.imei, a.tac,
           {scratch}.pick_pos(a.lo, a.cnt, a.n, {u}(r.g, %(s4)s), {u}(r.g, %(s5)s), %(p_out)s) AS pos
    FROM (SELECT g, %(prefix)s || lpad(to_hex(g), 12, '0') AS id,
                 to_timestamp(%(epoch)s + floor({u}(g, %(s1)s) * 86400)) AS t,
                 (ARRAY[50, 100, 200, 500, 1000, 2000])[1 + floor({u}(g, %(s2)s) * 6)::int]::numeric AS amount,
                 floor({u}(g, %(s6)s) * 5001)::numeric AS pre,
                 floor({u}(g, %(s3)s) * %(n_subs)s)::int AS sid
          FROM generate_series(0::bigint, %(n)s - 1) AS g) r
    JOIN {subs} a ON a.sid = r.sid
) c
JOIN {avail} v ON v.regime = %(regime)s AND v.pos = c.pos
"""

TYPE_INDEX = {"calls": 1, "sms": 2, "mds": 3, "topups": 4}


def _insert_statement(cdr_type: str, table: sql.Composable, subs: sql.Composable) -> sql.Composed:
    template = {
        "calls": PAIRED_INSERT,
        "sms": PAIRED_INSERT,
        "mds": MDS_INSERT,
        "topups": TOPUPS_INSERT,
    }[cdr_type]
    duration = cdr_type == "calls"
    return sql.SQL(template).format(
        t=table,
        subs=subs,
        avail=_ident("avail"),
        u=_ident("u"),
        scratch=sql.Identifier(SCRATCH),
        duration_col=sql.SQL("duration," if duration else ""),
        duration_val=sql.SQL("c.dur," if duration else ""),
    )


def _generate_day(
    conn: psycopg.Connection, config: SyntheticConfig, cdr_type: str, k: int, day: dt.date
) -> int:
    count = config.events_per_day[cdr_type]
    epoch = int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())
    params: dict[str, int | float | str] = {
        "n": count,
        "epoch": epoch,
        "prefix": f"{TYPE_INDEX[cdr_type]:x}{k:07x}",
        "n_pairs": max(1, config.interactions_multiplier * config.n_subscribers),
        "n_subs": config.n_subscribers,
        "p_out": config.p_out_of_area,
        "regime": 1 if config.in_disaster(day) else 0,
        # The calling pairs are fixed: their streams depend on the subscribers' seed only.
        "pair_a": stream_seed(config.subscribers_seed, "pair", "caller"),
        "pair_b": stream_seed(config.subscribers_seed, "pair", "callee"),
    }
    for stream in range(1, 8):
        params[f"s{stream}"] = stream_seed(config.calls_seed, cdr_type, k, stream)
    with conn.transaction():
        conn.execute("SET LOCAL jit = off")
        with day_partition(
            conn, cdr_type, day, indexes=config.index_columns, analyze=False
        ) as table:
            cur = conn.execute(_insert_statement(cdr_type, table, _ident(f"day_subs_{k}")), params)
            rows = cur.rowcount
    return rows


def generate_sql(
    connect: ConnectionFactory,
    config: SyntheticConfig,
    cell_regions_sql: str,
    *,
    workers: int = 2,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Generate every day and type; return rows loaded per type. `connect` opens superuser connections."""
    say = progress or (lambda message: None)
    started = time.monotonic()
    with connect() as conn:
        _setup(conn, config, cell_regions_sql)
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

    def connection() -> psycopg.Connection:
        if not hasattr(local, "conn"):
            local.conn = connect()
            with lock:
                opened.append(local.conn)
        return local.conn

    def prepare(k: int, day: dt.date) -> None:
        _day_subscribers(connection(), config, k, day)

    def run(job: tuple[str, int, dt.date]) -> None:
        cdr_type, k, day = job
        prepared[k].result()  # submitted before this job, so already running or done: no deadlock
        t0 = time.monotonic()
        rows = _generate_day(connection(), config, cdr_type, k, day)
        with lock:
            totals[cdr_type] += rows
            done = sum(totals.values())
        say(
            f"{cdr_type} {day}: {rows:,} rows in {time.monotonic() - t0:.1f} s ({done:,} rows so far)"
        )

    try:
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            # Each day's subscriber table is built on the pool, queued just ahead of that day's events.
            prepared: dict[int, Future[None]] = {}
            futures = []
            for job in jobs:
                k, day = job[1], job[2]
                if k not in prepared:
                    prepared[k] = pool.submit(prepare, k, day)
                    futures.append(prepared[k])
                futures.append(pool.submit(run, job))
            for future in futures:
                future.result()
    finally:
        for conn in opened:
            conn.close()
        with connect() as conn:
            conn.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(SCRATCH))
            )
    return {k: v for k, v in totals.items() if counts[k] > 0}
