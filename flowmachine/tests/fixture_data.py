"""A small, fully known FlowDB for checking every query kind against an independent pandas computation.

Geography: a 4°×4° square country (lon 10..14, lat 10..14); admin1 = west/east halves, admin2 = quadrants,
admin3 = the sixteen 1°×1° squares. Cells sit inside squares, one on a border, one moves between versions,
one starts service late. Two datasets share it:

- HAND (2016-01-01..03): 40 subscribers with deliberate ties (same-instant last events, equal counts, equal
  days), self-calls, events at unknown cells, without a cell, and outside a cell's service window.
- GENERATED (2016-03-01..05): 400 subscribers drawn from a seeded generator, enough for redaction to keep
  some rows and drop others.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass

import numpy as np
import pandas as pd
import psycopg

from flowdb.synthetic.loading import day_partition

LON0, LAT0 = 10.0, 10.0
HAND_DAYS = [dt.date(2016, 1, 1) + dt.timedelta(days=i) for i in range(3)]
GEN_DAYS = [dt.date(2016, 3, 1) + dt.timedelta(days=i) for i in range(5)]


def admin3_pcod(ix: int, iy: int) -> str:
    return f"Z.{1 + ix // 2}.{1 + ix // 2 * 2 + iy // 2}.{ix}{iy}"


def admin2_pcod(ix: int, iy: int) -> str:
    return f"Z.{1 + ix // 2}.{1 + ix // 2 * 2 + iy // 2}"


def admin1_pcod(ix: int, iy: int) -> str:
    return f"Z.{1 + ix // 2}"


def square_wkt(x0: float, y0: float, x1: float, y1: float) -> str:
    return f"MULTIPOLYGON((({x0} {y0},{x1} {y0},{x1} {y1},{x0} {y1},{x0} {y0})))"


# id, version, site, lon, lat, first service, last service
CELLS = [
    ("C00", 0, "S00", 10.5, 10.5, None, None),
    ("C01", 0, "S00", 10.5, 10.5, None, None),
    ("C02", 0, "S01", 11.5, 10.5, None, None),
    ("C03", 0, "S02", 10.5, 11.5, None, None),
    ("C04", 0, "S03", 12.5, 12.5, None, None),
    ("C05", 0, "S04", 13.5, 13.5, None, None),
    ("C06", 0, "S05", 12.5, 10.5, None, None),
    (
        "C07",
        0,
        "S06",
        11.0,
        13.5,
        None,
        None,
    ),  # on the border of two admin3 squares (and admin2 quadrants)
    ("C08", 0, "S07", 10.5, 13.5, None, dt.date(2016, 1, 1)),  # moves after day one ...
    ("C08", 1, "S08", 13.5, 10.5, dt.date(2016, 1, 2), None),  # ... to the south-east
    ("C09", 0, "S09", 12.5, 11.5, dt.date(2016, 1, 3), None),  # in service only from day three
]
# site id, version, lon, lat
SITES = [
    ("S00", 0, 10.5, 10.5),
    ("S01", 0, 11.5, 10.5),
    ("S02", 0, 10.5, 11.5),
    ("S03", 0, 12.5, 12.5),
    ("S04", 0, 13.5, 13.5),
    ("S05", 0, 12.5, 10.5),
    ("S06", 0, 11.0, 13.5),
    ("S07", 0, 10.5, 13.5),
    ("S08", 0, 13.5, 10.5),
    ("S09", 0, 12.5, 11.5),
]
KNOWN_CELLS = sorted({c[0] for c in CELLS})
EVENT_COLUMNS = [
    "id",
    "outgoing",
    "datetime",
    "duration",
    "msisdn",
    "msisdn_counterpart",
    "location_id",
]


@dataclass
class Fixture:
    events: (
        pd.DataFrame
    )  # cdr_type, id, outgoing, datetime, duration, msisdn, msisdn_counterpart, location_id
    cells: pd.DataFrame
    sites: pd.DataFrame


def build_geography(conn: psycopg.Connection) -> None:
    conn.execute(
        "INSERT INTO geography.admin0 (admin0pcod, admin0name, geom) VALUES ('Z', 'Zland', ST_GeomFromText(%s, 4326))",
        (square_wkt(10, 10, 14, 14),),
    )
    for half in range(2):
        conn.execute(
            "INSERT INTO geography.admin1 (admin1pcod, admin1name, admin0pcod, geom) "
            "VALUES (%s, %s, 'Z', ST_GeomFromText(%s, 4326))",
            (f"Z.{1 + half}", f"Half {half}", square_wkt(10 + 2 * half, 10, 12 + 2 * half, 14)),
        )
    for ix in (0, 2):
        for iy in (0, 2):
            conn.execute(
                "INSERT INTO geography.admin2 (admin2pcod, admin2name, admin1pcod, admin0pcod, geom) "
                "VALUES (%s, %s, %s, 'Z', ST_GeomFromText(%s, 4326))",
                (
                    admin2_pcod(ix, iy),
                    f"Quadrant {ix}{iy}",
                    admin1_pcod(ix, iy),
                    square_wkt(10 + ix, 10 + iy, 12 + ix, 12 + iy),
                ),
            )
    for ix in range(4):
        for iy in range(4):
            conn.execute(
                "INSERT INTO geography.admin3 (admin3pcod, admin3name, admin2pcod, admin1pcod, admin0pcod, geom) "
                "VALUES (%s, %s, %s, %s, 'Z', ST_GeomFromText(%s, 4326))",
                (
                    admin3_pcod(ix, iy),
                    f"Square {ix}{iy}",
                    admin2_pcod(ix, iy),
                    admin1_pcod(ix, iy),
                    square_wkt(10 + ix, 10 + iy, 11 + ix, 11 + iy),
                ),
            )


def build_infrastructure(conn: psycopg.Connection) -> None:
    for sid, version, lon, lat in SITES:
        conn.execute(
            "INSERT INTO infrastructure.sites (id, version, geom_point) "
            "VALUES (%s, %s, ST_SetSRID(ST_MakePoint(%s, %s), 4326))",
            (sid, version, lon, lat),
        )
    for cid, version, site, lon, lat, first, last in CELLS:
        conn.execute(
            "INSERT INTO infrastructure.cells (id, version, site_id, date_of_first_service, date_of_last_service, geom_point) "
            "VALUES (%s, %s, %s, %s, %s, ST_SetSRID(ST_MakePoint(%s, %s), 4326))",
            (cid, version, site, first, last, lon, lat),
        )


def _subscriber(i: int) -> str:
    return f"sub{i:04d}"


def _pair_rows(
    cdr_type: str,
    eid: str,
    t: dt.datetime,
    a: str,
    b: str,
    loc_a: str | None,
    loc_b: str | None,
    duration: int,
) -> list[dict]:
    base = {
        "cdr_type": cdr_type,
        "id": eid,
        "datetime": t,
        "duration": duration if cdr_type == "calls" else None,
    }
    return [
        {**base, "outgoing": True, "msisdn": a, "msisdn_counterpart": b, "location_id": loc_a},
        {**base, "outgoing": False, "msisdn": b, "msisdn_counterpart": a, "location_id": loc_b},
    ]


def hand_events() -> list[dict]:
    """Events of HAND_DAYS: a seeded background plus the deliberate edge cases."""
    rng = np.random.default_rng(20160101)
    rows: list[dict] = []
    n_subs = 40
    homes = rng.choice(KNOWN_CELLS, size=n_subs)
    serial = 0
    for day in HAND_DAYS:
        for _ in range(120):
            a, b = rng.choice(n_subs, size=2, replace=False)
            t = dt.datetime.combine(day, dt.time()) + dt.timedelta(
                seconds=int(rng.integers(0, 86400))
            )
            loc_a = homes[a] if rng.random() < 0.6 else rng.choice(KNOWN_CELLS)
            loc_b = homes[b] if rng.random() < 0.6 else rng.choice(KNOWN_CELLS)
            cdr = "calls" if rng.random() < 0.7 else "sms"
            serial += 1
            rows += _pair_rows(
                cdr,
                f"h{serial}",
                t,
                _subscriber(a),
                _subscriber(b),
                loc_a,
                loc_b,
                int(rng.integers(1, 600)),
            )
    d1 = dt.datetime(2016, 1, 1)
    special = [
        # sub0900: last events of day one tie at 23:00:00 in two places (C02 and C05 -> greater cell id wins)
        ("calls", "t1", d1 + dt.timedelta(hours=23), "sub0900", "sub0901", "C02", "C00"),
        ("calls", "t2", d1 + dt.timedelta(hours=23), "sub0900", "sub0902", "C05", "C00"),
        # sub0903: two places with two events each on day one; C03 has the later latest event
        ("calls", "t3", d1 + dt.timedelta(hours=1), "sub0903", "sub0901", "C04", "C00"),
        ("calls", "t4", d1 + dt.timedelta(hours=2), "sub0903", "sub0901", "C04", "C00"),
        ("calls", "t5", d1 + dt.timedelta(hours=3), "sub0903", "sub0901", "C03", "C00"),
        ("calls", "t6", d1 + dt.timedelta(hours=4), "sub0903", "sub0901", "C03", "C00"),
        ("calls", "t6b", d1 + dt.timedelta(hours=5), "sub0903", "sub0901", "UNKNOWN", "C00"),
        # self-calls and events without a cell
        ("calls", "t7", d1 + dt.timedelta(hours=6), "sub0904", "sub0904", "C01", "C01"),
        ("sms", "t8", d1 + dt.timedelta(hours=7), "sub0904", "sub0905", None, ""),
        # the moving cell C08 on day one (north-west) and day two (south-east); C09 before its service
        ("calls", "t9", d1 + dt.timedelta(hours=8), "sub0906", "sub0907", "C08", "C09"),
        ("calls", "t10", d1 + dt.timedelta(days=1, hours=8), "sub0906", "sub0907", "C08", "C09"),
        ("calls", "t11", d1 + dt.timedelta(days=2, hours=8), "sub0906", "sub0907", "C08", "C09"),
        # visited_most_days ties: sub0908 at C04 and C05 on days 1 and 2, same event counts
        ("sms", "t12", d1 + dt.timedelta(hours=9), "sub0908", "sub0901", "C04", "C00"),
        ("sms", "t13", d1 + dt.timedelta(hours=10), "sub0908", "sub0901", "C05", "C00"),
        ("sms", "t14", d1 + dt.timedelta(days=1, hours=9), "sub0908", "sub0901", "C05", "C00"),
        ("sms", "t15", d1 + dt.timedelta(days=1, hours=10), "sub0908", "sub0901", "C04", "C00"),
        # late-night and early-morning events for hours windows that wrap midnight
        (
            "calls",
            "t16",
            d1 + dt.timedelta(hours=22, minutes=59),
            "sub0909",
            "sub0901",
            "C07",
            "C00",
        ),
        ("calls", "t17", d1 + dt.timedelta(days=1, minutes=30), "sub0909", "sub0901", "C07", "C00"),
    ]
    for cdr, eid, t, a, b, la, lb in special:
        rows += _pair_rows(cdr, eid, t, a, b, la, lb, 60)
    return rows


def generated_events(n_subs: int = 400, calls_per_day: int = 2500) -> list[dict]:
    """Events of GEN_DAYS: subscribers with a home cell and some travel, enough for redaction to bite."""
    rng = np.random.default_rng(20160301)
    cells = [c for c in KNOWN_CELLS if c not in {"C08", "C09"}]
    weights = np.array([8, 5, 4, 3, 2, 1.5, 1, 0.5], dtype=float)[: len(cells)]
    weights /= weights.sum()
    homes = rng.choice(cells, size=n_subs, p=weights)
    activity = rng.lognormal(0, 0.8, size=n_subs)
    activity /= activity.sum()
    rows: list[dict] = []
    serial = 0
    for day in GEN_DAYS:
        a_all = rng.choice(n_subs, size=calls_per_day, p=activity)
        b_all = rng.choice(n_subs, size=calls_per_day, p=activity)
        secs = rng.integers(0, 86400, size=calls_per_day)
        for a, b, s in zip(a_all, b_all, secs, strict=True):
            if a == b:
                continue
            t = dt.datetime.combine(day, dt.time()) + dt.timedelta(seconds=int(s))
            loc_a = homes[a] if rng.random() < 0.7 else rng.choice(cells)
            loc_b = homes[b] if rng.random() < 0.7 else rng.choice(cells)
            cdr = "calls" if rng.random() < 0.6 else "sms"
            serial += 1
            rows += _pair_rows(
                cdr,
                f"g{serial}",
                t,
                _subscriber(a),
                _subscriber(b),
                loc_a,
                loc_b,
                int(rng.integers(1, 900)),
            )
    return rows


def _load_day(conn: psycopg.Connection, cdr_type: str, day: dt.date, frame: pd.DataFrame) -> None:
    columns = [c for c in EVENT_COLUMNS if not (cdr_type == "sms" and c == "duration")]
    with day_partition(conn, cdr_type, day) as table:
        buffer = io.StringIO()
        out = frame[columns].copy()
        out["datetime"] = out["datetime"].map(lambda t: t.isoformat() + "+00")
        out.to_csv(buffer, index=False, header=False, na_rep="\\N")
        with conn.cursor() as cur:
            copy_sql = psycopg.sql.SQL(
                "COPY {} ({}) FROM STDIN WITH (FORMAT csv, NULL '\\N')"
            ).format(table, psycopg.sql.SQL(", ").join(psycopg.sql.Identifier(c) for c in columns))
            with cur.copy(copy_sql) as copy:
                copy.write(buffer.getvalue())


def load(conn: psycopg.Connection) -> Fixture:
    """Write geography, infrastructure and both event sets; return them as DataFrames."""
    conn.autocommit = True
    build_geography(conn)
    build_infrastructure(conn)
    events = pd.DataFrame(hand_events() + generated_events())
    events["datetime"] = pd.to_datetime(events["datetime"])
    events["day"] = events["datetime"].dt.date
    for (cdr_type, day), frame in events.groupby(["cdr_type", "day"]):
        _load_day(conn, cdr_type, day, frame)
    conn.execute("ANALYZE")
    cells = pd.DataFrame(CELLS, columns=["id", "version", "site_id", "lon", "lat", "first", "last"])
    sites = pd.DataFrame(SITES, columns=["id", "version", "lon", "lat"])
    return Fixture(events=events.drop(columns="day"), cells=cells, sites=sites)


# Handsets and top-ups (used by the metrics kinds' tests, loaded on demand by `load_handsets_and_topups`) ----

# id, brand, model, software_os_name, software_os_vendor, hnd_type
TACS = [
    (10000001, "Acme", "A1", "Droid", "Robo", "Smart"),
    (10000002, "Acme", "A2", "Droid", "Robo", "Smart"),
    (10000003, "Bolt", "B1", "Fruit", "Orchard", "Smart"),
    (10000004, "Bolt", "B2", "Fruit", "Orchard", "Smart"),
    (10000005, "Cell", "C1", None, None, "Feature"),
    (10000006, "Cell", "C2", None, None, "Feature"),
    (10000007, "Dial", "D1", "Droid", "Robo", "Smart"),
    (10000008, "Dial", "D2", "Tiny", "Dial", "Feature"),
]
UNKNOWN_TAC = 99999999  # used by some events, absent from infrastructure.tacs
TOPUP_COLUMNS = [
    "id",
    "datetime",
    "recharge_amount",
    "pre_event_balance",
    "post_event_balance",
    "msisdn",
    "location_id",
]


@dataclass
class HandsetsAndTopups:
    event_tacs: pd.DataFrame  # cdr_type, id, outgoing, tac (NaN = no TAC)
    tacs: pd.DataFrame  # TACS columns
    topups: pd.DataFrame  # TOPUP_COLUMNS


def event_tacs(events: pd.DataFrame) -> pd.DataFrame:
    """A TAC for each fixture event: a handset per subscriber, some switching, some missing or unknown."""
    rng = np.random.default_rng(20160102)
    ids = [t[0] for t in TACS]
    subs = sorted(events.msisdn.unique())
    primary = {s: ids[i % len(ids)] for i, s in enumerate(subs)}
    second = {s: ids[(i * 3 + 1) % len(ids)] for i, s in enumerate(subs)}
    switch = {
        s: dt.datetime(2016, 1, 2, 12) if i % 2 else dt.datetime(2016, 3, 3, 12)
        for i, s in enumerate(subs)
    }
    tacs = []
    for s, t in zip(events.msisdn, events.datetime, strict=True):
        r = rng.random()
        if r < 0.05:
            tacs.append(np.nan)
        elif r < 0.07:
            tacs.append(float(UNKNOWN_TAC))
        elif int(s[3:]) % 3 == 0 and t >= switch[s]:
            tacs.append(float(second[s]))
        elif r < 0.25:
            tacs.append(float(rng.choice(ids)))
        else:
            tacs.append(float(primary[s]))
    out = events[["cdr_type", "id", "outgoing"]].copy()
    out["tac"] = tacs
    return out


def topup_rows() -> pd.DataFrame:
    """Top-ups: a seeded set over the generated days plus hand-made ties on the first hand day."""
    rng = np.random.default_rng(20160103)
    rows = []
    serial = 0
    for day in GEN_DAYS:
        for i in range(400):
            for _ in range(int(rng.poisson(0.8))):
                serial += 1
                t = dt.datetime.combine(day, dt.time()) + dt.timedelta(
                    seconds=int(rng.integers(0, 86400))
                )
                amount = float(rng.choice([5, 10, 20, 50]))
                pre = float(rng.integers(0, 40))
                rows.append((f"u{serial}", t, amount, pre, pre + amount, _subscriber(i), "C00"))
    d1 = dt.datetime(2016, 1, 1)
    rows += [
        # sub0000: two top-ups at the same instant (ordered by id), equal amounts
        ("v1", d1 + dt.timedelta(hours=6), 10.0, 3.0, 13.0, "sub0000", "C01"),
        ("v2", d1 + dt.timedelta(hours=6), 10.0, 13.0, 23.0, "sub0000", "C01"),
        ("v3", d1 + dt.timedelta(hours=18), 20.0, 5.0, 25.0, "sub0000", None),
        # sub0001: one top-up; sub0002: two equal-weight balances (mode and median ties)
        ("v4", d1 + dt.timedelta(hours=12), 5.0, 1.0, 6.0, "sub0001", "C02"),
        ("v5", d1 + dt.timedelta(hours=8), 50.0, 0.0, 50.0, "sub0002", "C03"),
        ("v6", d1 + dt.timedelta(hours=16), 5.0, 0.0, 5.0, "sub0002", "C03"),
        ("v7", d1 + dt.timedelta(days=1, hours=1), 20.0, 2.0, 22.0, "sub0002", "C03"),
    ]
    frame = pd.DataFrame(rows, columns=TOPUP_COLUMNS)
    frame["datetime"] = pd.to_datetime(frame["datetime"])
    return frame


def load_handsets_and_topups(conn: psycopg.Connection, fx: Fixture) -> HandsetsAndTopups:
    """Write infrastructure.tacs, the TACs of the fixture's events and events.topups (once per cluster)."""
    conn.autocommit = True
    tacs = event_tacs(fx.events)
    topups = topup_rows()
    result = HandsetsAndTopups(
        event_tacs=tacs,
        tacs=pd.DataFrame(
            TACS,
            columns=["id", "brand", "model", "software_os_name", "software_os_vendor", "hnd_type"],
        ),
        topups=topups,
    )
    if conn.execute("SELECT count(*) FROM infrastructure.tacs").fetchone()[0]:
        return result
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO infrastructure.tacs (id, brand, model, software_os_name, software_os_vendor, hnd_type) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            TACS,
        )
    conn.execute("CREATE TEMP TABLE _tacs (cdr_type text, id text, outgoing bool, tac numeric)")
    with conn.cursor() as cur, cur.copy("COPY _tacs FROM STDIN") as copy:
        for row in tacs.itertuples(index=False):
            copy.write_row(
                (row.cdr_type, row.id, row.outgoing, None if pd.isna(row.tac) else int(row.tac))
            )
    for cdr_type in ("calls", "sms"):
        conn.execute(
            psycopg.sql.SQL(
                "UPDATE {} e SET tac = t.tac FROM _tacs t "
                "WHERE t.cdr_type = {} AND e.id = t.id AND e.outgoing = t.outgoing"
            ).format(psycopg.sql.Identifier("events", cdr_type), psycopg.sql.Literal(cdr_type))
        )
    conn.execute("DROP TABLE _tacs")
    topups = topups.assign(day=topups.datetime.dt.date)
    for day, frame in topups.groupby("day"):
        with day_partition(conn, "topups", day) as table:
            buffer = io.StringIO()
            out = frame[TOPUP_COLUMNS].copy()
            out["datetime"] = out["datetime"].map(lambda t: t.isoformat() + "+00")
            out.to_csv(buffer, index=False, header=False, na_rep="\\N")
            with conn.cursor() as cur:
                copy_sql = psycopg.sql.SQL(
                    "COPY {} ({}) FROM STDIN WITH (FORMAT csv, NULL '\\N')"
                ).format(
                    table,
                    psycopg.sql.SQL(", ").join(psycopg.sql.Identifier(c) for c in TOPUP_COLUMNS),
                )
                with cur.copy(copy_sql) as copy:
                    copy.write(buffer.getvalue())
    conn.execute("ANALYZE events.calls, events.sms, events.topups, infrastructure.tacs")
    return result
