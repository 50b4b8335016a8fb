"""The Python generator: its model, reproducibility and what it loads into a real FlowDB."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import psycopg
import pytest
from psycopg import sql

from flowdb.cluster import Cluster
from flowdb.synthetic import pgbinary as pb
from flowdb.synthetic import python_generator as pg
from flowdb.synthetic.config import SyntheticConfig
from flowdb.synthetic.loading import day_table_name
from flowdb.testing import visible_pages

TYPES = ("calls", "sms", "mds", "topups")
BASE = SyntheticConfig(
    generator="python",
    n_days=3,
    n_subscribers=300,
    n_calls=2000,
    n_sms=1000,
    n_mds=500,
    n_topups=200,
    p_out_of_area=0.2,
    p_relocate=0.05,
    start_date=dt.date(2031, 3, 1),
).validate()
DISASTER = replace(
    BASE,
    start_date=dt.date(2031, 4, 1),
    n_days=4,
    disaster_region_pcod="A2_1",
    disaster_start=dt.date(2031, 4, 2),
    disaster_end=dt.date(2031, 4, 3),
).validate()


def tiny_world() -> pg.World:
    """4 admin2 units x 3 admin3 units; cell ids of varying width (pyg1 .. pyg60), one admin3 without cells."""
    cells, admin3, admin2 = [], [], []
    for i in range(60):
        a2 = i % 4
        a3 = (i // 4) % 3
        if (a2, a3) == (3, 2):
            a3 = 1  # admin3 A3_3_2 has no cells: it is no region
        cells.append(f"pyg{i + 1}")
        admin3.append(f"A3_{a2}_{a3}")
        admin2.append(f"A2_{a2}")
    return pg.World.from_cells(cells, admin3, admin2, [35_000_000 + 7 * t for t in range(20)])


WORLD = tiny_world()
REGION_OF_CELL = {
    c.decode(): int(r) for c, r in zip(WORLD.cell_ids, WORLD.cell_region, strict=True)
}


def day_range(config: SyntheticConfig) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(config.start_date, dt.time(), tzinfo=dt.UTC)
    return start, start + dt.timedelta(days=config.n_days)


def rows_md5(conn: psycopg.Connection, config: SyntheticConfig) -> str:
    """md5 over every loaded row of the config's days, all types, in a fixed order."""
    start, end = day_range(config)
    parts = []
    for cdr_type in TYPES:
        parts.append(
            conn.execute(
                sql.SQL(
                    "SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM {} t "
                    "WHERE datetime >= %s AND datetime < %s"
                ).format(sql.Identifier("events", cdr_type)),
                (start, end),
            ).fetchone()[0]
        )
    return hashlib.md5("".join(parts).encode()).hexdigest()


def cleanup(conn: psycopg.Connection, config: SyntheticConfig) -> None:
    """Remove the partitions and records this module created."""
    with conn.transaction():
        for cdr_type in TYPES:
            for day in config.dates:
                table = sql.Identifier("events", day_table_name(cdr_type, day))
                conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(table))
        conn.execute("DELETE FROM etl.etl_records WHERE cdr_date = ANY(%s)", (config.dates,))
        conn.execute("DELETE FROM etl.post_etl_queries WHERE cdr_date = ANY(%s)", (config.dates,))
        conn.execute("DELETE FROM events.location_ids WHERE location_id LIKE 'pyg%%'")


@pytest.fixture(scope="module")
def conn(cluster: Cluster) -> Iterator[psycopg.Connection]:
    with cluster.connect() as c:
        yield c
        cleanup(c, BASE)
        cleanup(c, DISASTER)


@pytest.fixture(scope="module")
def loaded(conn: psycopg.Connection) -> dict[str, int]:
    """The base configuration, loaded once for the module."""
    messages: list[str] = []
    rows = pg.generate_python(conn, BASE, WORLD, progress=messages.append)
    assert len(messages) == BASE.n_days * len(TYPES)
    return rows


@pytest.fixture(scope="module")
def events(conn: psycopg.Connection, loaded: dict[str, int]) -> list[tuple]:
    """(type, msisdn, location_id, day index) of every loaded row."""
    start, end = day_range(BASE)
    out = []
    for cdr_type in TYPES:
        out += conn.execute(
            sql.SQL(
                "SELECT %s, msisdn, location_id, ((datetime AT TIME ZONE 'UTC')::date - %s::date) "
                "FROM {} WHERE datetime >= %s AND datetime < %s"
            ).format(sql.Identifier("events", cdr_type)),
            (cdr_type, BASE.start_date, start, end),
        ).fetchall()
    return out


# --- the model, without a database ------------------------------------------------------------------


def test_world_regions() -> None:
    assert WORLD.n_regions == 11
    assert set(WORLD.region_admin2) == {"A2_0", "A2_1", "A2_2", "A2_3"}
    assert WORLD.cell_ids.dtype == np.dtype("S5")
    for pcod, a2 in zip(WORLD.region_pcods, WORLD.region_admin2, strict=True):
        assert pcod.startswith(f"A3_{a2[-1]}_")


def test_hex_and_ids_are_fixed_width_and_unique() -> None:
    values = np.array([0, 1, 0xABCDEF, 2**64 - 1], dtype=np.uint64)
    assert pg._hex(values, 16).tolist() == [
        b"0000000000000000",
        b"0000000000000001",
        b"0000000000abcdef",
        b"ffffffffffffffff",
    ]
    assert pg._hex(values, 15)[3] == b"f" * 15
    ids = np.concatenate(
        [pg.event_ids(22222, day, t, 50_000) for day in range(3) for t in range(4)]
    )
    assert len(np.unique(ids)) == len(ids)
    assert ids.dtype == np.dtype("S16")
    assert not np.array_equal(pg.event_ids(1, 0, 0, 100), pg.event_ids(2, 0, 0, 100))


def test_subscribers_are_unique_and_reproducible() -> None:
    subs = pg.make_subscribers(BASE, WORLD)
    again = pg.make_subscribers(BASE, WORLD)
    for field in ("msisdn", "imsi", "imei", "tac"):
        assert np.array_equal(getattr(subs, field), getattr(again, field))
    for field, width in (("msisdn", 16), ("imsi", 15), ("imei", 16)):
        values = getattr(subs, field)
        assert values.dtype == np.dtype(f"S{width}")
        assert len(np.unique(values)) == BASE.n_subscribers
        assert all(v.decode() == v.decode().lower() for v in values[:20])
    assert set(subs.tac.tolist()) <= set(WORLD.tacs.tolist())
    caller, callee = pg.make_pairs(BASE)
    assert len(caller) == BASE.interactions_multiplier * BASE.n_subscribers
    assert np.all(caller != callee)
    assert callee.max() < BASE.n_subscribers


def test_placement_share_out_of_home() -> None:
    avail = pg.Available.of(WORLD, np.ones(len(WORLD.cell_ids), dtype=bool))
    rng = np.random.default_rng(5)
    home = rng.integers(0, WORLD.n_regions, size=200_000)
    cells = pg._place(rng, avail, home, 0.2)
    out = WORLD.cell_region[cells] != home
    assert abs(out.mean() - 0.2) < 0.005
    # Every cell is reachable both from home and from outside.
    assert len(np.unique(cells)) == len(WORLD.cell_ids)
    always_out = pg._place(rng, avail, home, 1.0)
    assert np.all(WORLD.cell_region[always_out] != home)


def test_homes_move_and_disaster_empties_its_region() -> None:
    homes = pg.daily_homes(DISASTER, WORLD)
    assert homes.shape == (DISASTER.n_days, DISASTER.n_subscribers)
    closed = WORLD.region_admin2 == "A2_1"
    assert closed[homes[0]].sum() > 0  # people lived there before the disaster
    assert not closed[homes[1]].any() and not closed[homes[2]].any()
    moved = (homes[1:] != homes[:-1]).mean()
    assert 0.0 < moved < 0.5
    calm = pg.daily_homes(replace(DISASTER, disaster_region_pcod=None), WORLD)
    assert 0.01 < (calm[1:] != calm[:-1]).mean() < 0.12  # about p_relocate = 0.05
    assert np.array_equal(calm[0], homes[0])


def test_batches_are_byte_identical_across_runs() -> None:
    def digest(config: SyntheticConfig) -> str:
        h = hashlib.sha256()
        for batch in pg.iter_batches(config, WORLD):
            for part in batch.parts:
                h.update(part.tobytes())
        return h.hexdigest()

    assert digest(BASE) == digest(BASE)
    assert digest(BASE) != digest(replace(BASE, calls_seed=BASE.calls_seed + 1))


def test_world_from_db(db: psycopg.Connection) -> None:
    regions_sql = """SELECT * FROM (VALUES ('pygB', 0, 'A1', 'A2_x', 'A3_y'), ('pygA', 0, 'A1', 'A2_x', 'A3_x'),
                                            ('pygA', 1, 'A1', 'A2_z', 'A3_z'), ('pygC', 0, NULL, NULL, NULL))
                     AS v(cell_id, version, admin1pcod, admin2pcod, admin3pcod)"""
    with db.transaction(force_rollback=True):
        db.execute("DELETE FROM infrastructure.tacs")
        db.execute("INSERT INTO infrastructure.tacs (id) VALUES (%s), (%s)", (12345678, 1))
        world = pg.World.from_db(db, regions_sql)
    assert world.cell_ids.tolist() == [b"pygA", b"pygB"]
    assert world.region_pcods.tolist() == ["A3_x", "A3_y"]
    assert world.cell_region.tolist() == [0, 1]
    assert world.region_admin2.tolist() == ["A2_x", "A2_x"]
    assert world.tacs.tolist() == [1, 12345678]


# --- what gets loaded ----------------------------------------------------------------------------------


def test_rows_per_type_and_day(conn: psycopg.Connection, loaded: dict[str, int]) -> None:
    per_day = {"calls": 2 * 2000, "sms": 2 * 1000, "mds": 500, "topups": 200}
    assert loaded == {t: n * BASE.n_days for t, n in per_day.items()}
    for cdr_type in TYPES:
        for day in BASE.dates:
            table = sql.Identifier("events", day_table_name(cdr_type, day))
            n, outside = conn.execute(
                sql.SQL(
                    "SELECT count(*), count(*) FILTER (WHERE (datetime AT TIME ZONE 'UTC')::date <> %s) "
                    "FROM {}"
                ).format(table),
                (day,),
            ).fetchone()
            assert (n, outside) == (per_day[cdr_type], 0)


def test_available_dates_and_tables(conn: psycopg.Connection, loaded: dict[str, int]) -> None:
    dates = set(
        conn.execute(
            "SELECT cdr_type, cdr_date FROM etl.available_dates WHERE cdr_date = ANY(%s)",
            (BASE.dates,),
        ).fetchall()
    )
    assert dates == {(t, d) for t in TYPES for d in BASE.dates}
    flags = dict(
        (r[0], r[1:])
        for r in conn.execute(
            "SELECT * FROM public.available_tables() WHERE table_name = ANY(%s)", (list(TYPES),)
        )
    )
    assert flags["calls"] == flags["sms"] == (True, True, True)
    assert flags["mds"][:2] == flags["topups"][:2] == (True, True)
    n_locations = conn.execute(
        "SELECT count(*) FROM events.location_ids WHERE location_id LIKE 'pyg%%' AND cdr_type = 'calls'"
    ).fetchone()[0]
    assert n_locations == len(WORLD.cell_ids)


def test_every_day_has_the_default_qa_checks(
    conn: psycopg.Connection, loaded: dict[str, int]
) -> None:
    outcomes = conn.execute(
        """SELECT cdr_type, cdr_date, type_of_query_or_check, outcome FROM etl.deduped_post_etl_queries
           WHERE cdr_date = ANY(%s)""",
        (BASE.dates,),
    ).fetchall()
    checks = {"calls": 24, "sms": 21, "mds": 16, "topups": 16}
    per_day = {(t, d): 0 for t in TYPES for d in BASE.dates}
    for cdr_type, day, _, _ in outcomes:
        per_day[cdr_type, day] += 1
    assert per_day == {(t, d): checks[t] for t, d in per_day}
    counted = {(t, d): int(o) for t, d, c, o in outcomes if c == "count_added_rows"}
    assert counted == {(t, d): loaded[t] // BASE.n_days for t, d in per_day}
    # the world's cells are not in infrastructure.cells: no event is locatable
    assert {o for _, _, c, o in outcomes if c == "count_locatable_events"} == {"0"}


def test_location_ids_are_those_the_rows_use(
    conn: psycopg.Connection, loaded: dict[str, int]
) -> None:
    """The loader gives each day's location ids itself (no read-back): they must be exactly the rows' own."""
    recorded = set(
        conn.execute(
            "SELECT location_id, cdr_type, first_active_date, last_active_date FROM events.location_ids "
            "WHERE location_id LIKE 'pyg%%'"
        ).fetchall()
    )
    from_rows = set()
    for cdr_type in TYPES:
        from_rows |= set(
            conn.execute(
                sql.SQL(
                    "SELECT location_id, %s::text, min((datetime AT TIME ZONE 'UTC')::date), "
                    "max((datetime AT TIME ZONE 'UTC')::date) FROM {} "
                    "WHERE location_id LIKE 'pyg%%' GROUP BY location_id"
                ).format(sql.Identifier("events", cdr_type)),
                (cdr_type,),
            ).fetchall()
        )
    assert recorded == from_rows
    assert len({r[0] for r in from_rows}) == len(WORLD.cell_ids)


def test_days_are_loaded_frozen(conn: psycopg.Connection, loaded: dict[str, int]) -> None:
    """COPY FREEZE into the day's new staging table: every page all-visible without a VACUUM."""
    for cdr_type in TYPES:
        table = f"events.{day_table_name(cdr_type, BASE.start_date)}"
        pages, visible = visible_pages(conn, table)
        assert pages > 0 and visible == pages, (table, pages, visible)


def test_a_batch_names_the_location_ids_of_its_rows() -> None:
    batch = next(pg.iter_batches(BASE, WORLD))
    located = pb.text("location_id", np.array([b"pyg2", b"pyg10", b"pyg2"]))
    assert pg.location_ids_of([located]) == ["pyg10", "pyg2"]
    assert set(batch.location_ids) <= {c.decode() for c in WORLD.cell_ids}
    assert len(batch.location_ids) == len(set(batch.location_ids)) > 0


@pytest.mark.parametrize("cdr_type", ["calls", "sms"])
def test_two_row_format(conn: psycopg.Connection, loaded: dict[str, int], cdr_type: str) -> None:
    start, end = day_range(BASE)
    table = sql.Identifier("events", cdr_type)
    duration = sql.SQL("duration") if cdr_type == "calls" else sql.SQL("NULL::numeric")
    bad = conn.execute(
        sql.SQL(
            """SELECT count(*) FROM (
                   SELECT id FROM {t} WHERE datetime >= %(s)s AND datetime < %(e)s GROUP BY id
                   HAVING count(*) <> 2 OR count(*) FILTER (WHERE outgoing) <> 1
                       OR count(DISTINCT datetime) <> 1 OR count(DISTINCT {d}) > 1
               ) x"""
        ).format(t=table, d=duration),
        {"s": start, "e": end},
    ).fetchone()[0]
    assert bad == 0
    mirrored = conn.execute(
        sql.SQL(
            """SELECT count(*), count(*) FILTER (
                   WHERE o.msisdn = i.msisdn_counterpart AND o.msisdn_counterpart = i.msisdn
                     AND o.msisdn <> o.msisdn_counterpart
                     AND o.datetime = i.datetime AND {od} IS NOT DISTINCT FROM {id_})
               FROM {t} o JOIN {t} i ON i.id = o.id AND NOT i.outgoing
               WHERE o.outgoing AND o.datetime >= %(s)s AND o.datetime < %(e)s"""
        ).format(
            t=table,
            od=sql.SQL("o.duration") if cdr_type == "calls" else sql.SQL("NULL"),
            id_=sql.SQL("i.duration") if cdr_type == "calls" else sql.SQL("NULL"),
        ),
        {"s": start, "e": end},
    ).fetchone()
    per_day = BASE.n_calls if cdr_type == "calls" else BASE.n_sms
    assert mirrored == (per_day * BASE.n_days, per_day * BASE.n_days)
    nulls = conn.execute(
        sql.SQL(
            "SELECT count(*) FROM {} WHERE datetime >= %s AND datetime < %s "
            "AND (network IS NOT NULL OR operator_code IS NOT NULL OR country_code IS NOT NULL)"
        ).format(table),
        (start, end),
    ).fetchone()[0]
    assert nulls == 0


def test_one_handset_per_subscriber(conn: psycopg.Connection, loaded: dict[str, int]) -> None:
    start, end = day_range(BASE)
    union = sql.SQL(" UNION ALL ").join(
        sql.SQL(
            "SELECT msisdn, imsi, imei, tac FROM {} WHERE datetime >= %(s)s AND datetime < %(e)s"
        ).format(sql.Identifier("events", t))
        for t in TYPES
    )
    row = conn.execute(
        sql.SQL(
            """SELECT count(DISTINCT msisdn), count(DISTINCT imei), count(DISTINCT imsi),
                      count(DISTINCT (msisdn, imei, imsi, tac)), min(length(msisdn)), max(length(imsi))
               FROM ({}) u"""
        ).format(union),
        {"s": start, "e": end},
    ).fetchone()
    n = row[0]
    assert 0.95 * BASE.n_subscribers <= n <= BASE.n_subscribers
    assert row[1:4] == (n, n, n)
    assert row[4:] == (16, 15)
    tacs = conn.execute(
        sql.SQL("SELECT DISTINCT tac::bigint FROM ({}) u").format(union), {"s": start, "e": end}
    ).fetchall()
    assert {r[0] for r in tacs} <= set(WORLD.tacs.tolist())


def test_mds_and_topups_values(conn: psycopg.Connection, loaded: dict[str, int]) -> None:
    start, end = day_range(BASE)
    mds = conn.execute(
        """SELECT count(*) FILTER (WHERE volume_total <> volume_upload + volume_download),
                  min(duration), max(duration), max(volume_upload), count(DISTINCT id)
           FROM events.mds WHERE datetime >= %s AND datetime < %s""",
        (start, end),
    ).fetchone()
    assert mds[0] == 0 and 0 <= mds[1] and mds[2] <= 260 and mds[3] <= 100_000
    assert mds[4] == BASE.n_mds * BASE.n_days
    topups = conn.execute(
        """SELECT count(*) FILTER (WHERE post_event_balance <> pre_event_balance + recharge_amount - tax_and_fee
                                      OR tax_and_fee <> recharge_amount * 0.1 OR airtime_fee <> 0
                                      OR type <> 'recharge'),
                  array_agg(DISTINCT recharge_amount ORDER BY recharge_amount), max(pre_event_balance)
           FROM events.topups WHERE datetime >= %s AND datetime < %s""",
        (start, end),
    ).fetchone()
    assert topups[0] == 0
    assert set(topups[1]) <= set(pg.RECHARGE_AMOUNTS.tolist())
    assert topups[2] <= 5000


def test_out_of_home_share(events: list[tuple]) -> None:
    homes = pg.daily_homes(BASE, WORLD)
    subs = pg.make_subscribers(BASE, WORLD)
    index = {m.decode(): i for i, m in enumerate(subs.msisdn)}
    out = [REGION_OF_CELL[loc] != homes[day, index[msisdn]] for _, msisdn, loc, day in events]
    assert len(out) == sum(n * BASE.n_days for n in (4000, 2000, 500, 200))
    assert abs(np.mean(out) - BASE.p_out_of_area) < 0.02


def test_reproducible_in_the_database(
    cluster: Cluster, conn: psycopg.Connection, loaded: dict[str, int]
) -> None:
    first = rows_md5(conn, BASE)
    pg.generate_python(conn, replace(BASE, calls_seed=BASE.calls_seed + 1), WORLD)
    other = rows_md5(conn, BASE)
    # Again, replacing every partition, with two loading connections.
    pg.generate_python(conn, BASE, WORLD, connect=cluster.connect, loaders=2)
    assert rows_md5(conn, BASE) == first
    assert other != first


def test_disaster_region_is_empty_in_the_window(conn: psycopg.Connection) -> None:
    rows = pg.generate_python(
        conn, replace(DISASTER, n_calls=500, n_sms=0, n_mds=300, n_topups=0), WORLD
    )
    assert set(rows) == {"calls", "mds"}
    closed = {c for c, r in REGION_OF_CELL.items() if WORLD.region_admin2[r] == "A2_1"}
    start, _ = day_range(DISASTER)
    per_day: dict[int, int] = {}
    for cdr_type in ("calls", "mds"):
        for day_index, n in conn.execute(
            sql.SQL(
                "SELECT (datetime AT TIME ZONE 'UTC')::date - %s::date, count(*) FROM {} "
                "WHERE location_id = ANY(%s) AND datetime >= %s AND datetime < %s + interval '4 days' "
                "GROUP BY 1"
            ).format(sql.Identifier("events", cdr_type)),
            (DISASTER.start_date, sorted(closed), start, start),
        ):
            per_day[day_index] = per_day.get(day_index, 0) + n
    assert per_day.get(0, 0) > 0  # used before
    assert per_day.get(1, 0) == 0 and per_day.get(2, 0) == 0
