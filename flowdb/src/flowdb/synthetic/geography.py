"""An offline synthetic country: admin0..admin3 boundaries built with PostGIS, deterministic from a seed.

FlowKit downloads GADM boundaries; we draw a country instead. admin0 is one irregular star-shaped polygon.
admin3 units are the Voronoi cells of well-spread seed points, clipped to the country; admin2 units are unions
of admin3 units (each assigned to the nearest of `n_admin2` chosen seeds) and admin1 units are unions of admin2
units, so the levels nest, cover the country and never overlap. Pcods are GADM-style ("SYN.1.2.3_1").
"""

from __future__ import annotations

import math

import numpy as np
import psycopg

from flowdb.errors import FlowDBError
from flowdb.synthetic.config import SyntheticConfig

COUNTRY_NAME = "Synthetica"
CENTRE = (84.0, 28.0)  # lon, lat
HALF_SIZE_KM = (350.0, 175.0)  # about 700 km x 350 km
KM_PER_DEG_LAT = 111.32
GRID = 1e-9  # snapping grid (degrees) for the clipped and unioned geometries

_ONSETS = ["b", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z"]
_ONSETS += ["ch", "sh", "th", "br", "dr", "kr", "tr", "gr", "bh", "dh", "kh"]
_VOWELS = ["a", "e", "i", "o", "u", "a", "o", "ai", "au", "ee"]
_CODAS = ["", "", "", "", "n", "r", "l", "m", "s", "k"]
_ENDINGS = ["", "", "", "a", "i", "pur", "gaon", "abad", "ton", "ora", "ani", "ika", "kot", "nagar"]


def place_names(rng: np.random.Generator, n: int, taken: set[str] | None = None) -> list[str]:
    """`n` distinct pronounceable made-up place names, none of them in `taken`."""
    seen = set(taken or ())
    names: list[str] = []
    while len(names) < n:
        syllables = int(rng.integers(2, 4))
        word = "".join(
            _ONSETS[rng.integers(len(_ONSETS))]
            + _VOWELS[rng.integers(len(_VOWELS))]
            + _CODAS[rng.integers(len(_CODAS))]
            for _ in range(syllables)
        )
        word = (word + _ENDINGS[rng.integers(len(_ENDINGS))]).capitalize()
        if len(word) <= 14 and word not in seen:
            seen.add(word)
            names.append(word)
    return names


def _country_outline(rng: np.random.Generator) -> np.ndarray:
    """The vertices (lon, lat) of an irregular star-convex polygon around CENTRE, unclosed, counter-clockwise."""
    n = int(rng.integers(14, 21))
    step = 2 * math.pi / n
    angles = np.arange(n) * step + rng.uniform(-0.3, 0.3, n) * step
    noise = rng.normal(0.0, 1.0, n)
    smooth = (np.roll(noise, 1) + 2 * noise + np.roll(noise, -1)) / 4
    radius = np.clip(1.0 + 0.16 * smooth, 0.72, 1.25)
    tilt = rng.uniform(-0.35, 0.35)
    x_km = HALF_SIZE_KM[0] * radius * np.cos(angles)
    y_km = HALF_SIZE_KM[1] * radius * np.sin(angles)
    x_km, y_km = (
        x_km * math.cos(tilt) - y_km * math.sin(tilt),
        x_km * math.sin(tilt) + y_km * math.cos(tilt),
    )
    lon0 = CENTRE[0] + rng.uniform(-0.5, 0.5)
    lat0 = CENTRE[1] + rng.uniform(-0.3, 0.3)
    lat = lat0 + y_km / KM_PER_DEG_LAT
    lon = lon0 + x_km / (KM_PER_DEG_LAT * np.cos(np.radians(lat)))
    return np.round(np.column_stack([lon, lat]), 6)


def _inside(poly: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Even-odd point-in-polygon test of `pts` (k x 2) against the ring `poly` (n x 2, unclosed)."""
    x, y = pts[:, 0:1], pts[:, 1:2]
    x1, y1 = poly[:, 0], poly[:, 1]
    x2, y2 = np.roll(x1, -1), np.roll(y1, -1)
    crosses = (y1 > y) != (y2 > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_at = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
    return np.logical_and(crosses, x < x_at).sum(axis=1) % 2 == 1


def _scaled(pts: np.ndarray) -> np.ndarray:
    """Lon/lat scaled so that Euclidean distances are roughly proportional to kilometres."""
    return pts * np.array([math.cos(math.radians(float(pts[:, 1].mean()))), 1.0])


def _spread_points(
    rng: np.random.Generator, poly: np.ndarray, n: int, candidates: int = 4
) -> np.ndarray:
    """`n` points inside `poly` by best-candidate sampling: even-ish spacing with some irregularity."""
    lo, hi = poly.min(axis=0), poly.max(axis=0)
    pool = np.empty((0, 2))
    chosen = np.empty((0, 2))
    while len(chosen) < n:
        if len(pool) < candidates:
            draw = rng.uniform(lo, hi, size=(512, 2))
            pool = np.vstack([pool, draw[_inside(poly, draw)]])
            continue
        cand, pool = pool[:candidates], pool[candidates:]
        if len(chosen) == 0:
            chosen = cand[:1]
            continue
        gaps = _scaled(cand)[:, None, :] - _scaled(chosen)[None, :, :]
        d = np.linalg.norm(gaps, axis=2).min(axis=1)
        chosen = np.vstack([chosen, cand[int(np.argmax(d))]])
    return chosen


def _pick_spread(rng: np.random.Generator, pts: np.ndarray, k: int) -> np.ndarray:
    """Indices of `k` of `pts`, chosen by randomised farthest-point sampling."""
    xy = _scaled(pts)
    picked = [int(rng.integers(len(pts)))]
    dist = np.linalg.norm(xy - xy[picked[0]], axis=1)
    while len(picked) < k:
        nxt = int(np.argmax(dist * rng.uniform(0.6, 1.0, len(pts))))
        if dist[nxt] == 0:  # everything left is a duplicate of a picked point
            nxt = int(np.setdiff1d(np.arange(len(pts)), picked)[0])
        picked.append(nxt)
        dist = np.minimum(dist, np.linalg.norm(xy - xy[nxt], axis=1))
    return np.array(picked)


def _nearest(pts: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """For each point, the index of the nearest seed."""
    d = np.linalg.norm(_scaled(pts)[:, None, :] - _scaled(seeds)[None, :, :], axis=2)
    return d.argmin(axis=1)


def _ordinals(parent: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """1-based ordinal of each unit within its parent, west to east."""
    out = np.zeros(len(parent), dtype=int)
    for p in np.unique(parent):
        members = np.flatnonzero(parent == p)
        out[members[np.argsort(lon[members], kind="stable")]] = np.arange(1, len(members) + 1)
    return out


def _hierarchy(
    rng: np.random.Generator, pts3: np.ndarray, n1: int, n2: int
) -> tuple[np.ndarray, ...]:
    """Parent indices: admin3 -> admin2 and admin2 -> admin1, plus the admin2 seed indices into `pts3`."""
    seeds2 = _pick_spread(rng, pts3, n2)
    parent3 = _nearest(pts3, pts3[seeds2])
    seeds1 = _pick_spread(rng, pts3[seeds2], n1)
    parent2 = _nearest(pts3[seeds2], pts3[seeds2][seeds1])
    # A seed always belongs to its own unit, even if a duplicate point is nearer.
    parent3[seeds2] = np.arange(n2)
    parent2[seeds1] = np.arange(n1)
    return seeds2, parent3, seeds1, parent2


def build_geography(conn: psycopg.Connection, config: SyntheticConfig) -> None:
    """Replace geography.admin0..admin3 with a synthetic country, deterministic from `config.cells_seed`."""
    rng = np.random.default_rng(config.cells_seed)
    cc = config.country_code
    n1, n2, n3 = config.n_admin1, config.n_admin2, config.n_admin3
    if not 1 <= n1 <= n2 <= n3:
        raise FlowDBError("admin unit counts must satisfy 1 <= admin1 <= admin2 <= admin3")
    outline = _country_outline(rng)
    pts3 = _spread_points(rng, outline, n3)
    seeds2, parent3, seeds1, parent2 = _hierarchy(rng, pts3, n1, n2)

    lon2, lon1 = pts3[seeds2, 0], pts3[seeds2][seeds1, 0]
    ord1 = _ordinals(np.zeros(n1, dtype=int), lon1)
    ord2 = _ordinals(parent2, lon2)
    ord3 = _ordinals(parent3, pts3[:, 0])
    pcod1 = [f"{cc}.{ord1[j]}_1" for j in range(n1)]
    pcod2 = [f"{cc}.{ord1[parent2[k]]}.{ord2[k]}_1" for k in range(n2)]
    pcod3 = [f"{cc}.{ord1[parent2[parent3[i]]]}.{ord2[parent3[i]]}.{ord3[i]}_1" for i in range(n3)]
    names1 = place_names(rng, n1)
    names2 = place_names(rng, n2)
    names3 = place_names(rng, n3)

    ring = np.vstack([outline, outline[:1]])
    wkt = "POLYGON((" + ",".join(f"{x:.6f} {y:.6f}" for x, y in ring) + "))"
    with conn.transaction():
        conn.execute("SET LOCAL jit = off")  # compiling these queries costs more than running them
        conn.execute(
            "TRUNCATE geography.admin0, geography.admin1, geography.admin2, geography.admin3 RESTART IDENTITY"
        )
        conn.execute(
            """INSERT INTO geography.admin0 (admin0pcod, admin0name, geom)
               VALUES (%s, %s, ST_Multi(ST_MakeValid(ST_GeomFromText(%s, 4326))))""",
            (cc, COUNTRY_NAME, wkt),
        )
        o3 = sorted(range(n3), key=lambda i: (ord1[parent2[parent3[i]]], ord2[parent3[i]], ord3[i]))
        conn.execute(
            ADMIN3_SQL,
            {
                "pcods": [pcod3[i] for i in o3],
                "names": [names3[i] for i in o3],
                "a2": [pcod2[parent3[i]] for i in o3],
                "a1": [pcod1[parent2[parent3[i]]] for i in o3],
                "x": [float(pts3[i, 0]) for i in o3],
                "y": [float(pts3[i, 1]) for i in o3],
                "grid": GRID,
            },
        )
        o2 = sorted(range(n2), key=lambda k: (ord1[parent2[k]], ord2[k]))
        conn.execute(
            ADMIN2_SQL,
            {"pcods": [pcod2[k] for k in o2], "names": [names2[k] for k in o2], "grid": GRID},
        )
        o1 = sorted(range(n1), key=lambda j: ord1[j])
        conn.execute(
            ADMIN1_SQL,
            {"pcods": [pcod1[j] for j in o1], "names": [names1[j] for j in o1], "grid": GRID},
        )
        conn.execute(
            "ANALYZE geography.admin0, geography.admin1, geography.admin2, geography.admin3"
        )


# Voronoi cells of the seeds clipped to the country (the whole country when there is a single seed), matched
# to their seeds, snapped to the grid.
ADMIN3_SQL = """
WITH country AS (SELECT admin0pcod, geom FROM geography.admin0),
seeds AS (
    SELECT s.*, ST_SetSRID(ST_MakePoint(s.x, s.y), 4326) AS pt
    FROM unnest(%(pcods)s::text[], %(names)s::text[], %(a2)s::text[], %(a1)s::text[],
                %(x)s::float8[], %(y)s::float8[])
         WITH ORDINALITY AS s(pcod, name, a2, a1, x, y, ord)
),
voronoi AS MATERIALIZED (
    SELECT (ST_Dump(ST_VoronoiPolygons(
        ST_Collect(pt), 0, (SELECT ST_Expand(ST_Envelope(geom), 1) FROM country)))).geom AS cell
    FROM seeds HAVING count(*) > 1
    UNION ALL
    SELECT ST_Expand(ST_Envelope(geom), 1) FROM country WHERE (SELECT count(*) FROM seeds) = 1
)
INSERT INTO geography.admin3 (admin3pcod, admin3name, admin2pcod, admin1pcod, admin0pcod, geom)
SELECT s.pcod, s.name, s.a2, s.a1, c.admin0pcod,
       ST_Multi(ST_CollectionExtract(ST_MakeValid(
           ST_ReducePrecision(ST_Intersection(v.cell, c.geom), %(grid)s)), 3))
FROM seeds s JOIN voronoi v ON ST_Contains(v.cell, s.pt) CROSS JOIN country c
ORDER BY s.ord
"""

# Unions of the exact admin3 geometries, in the order of the given pcods.
ADMIN2_SQL = """
INSERT INTO geography.admin2 (admin2pcod, admin2name, admin1pcod, admin0pcod, geom)
SELECT u.pcod, u.name, min(a.admin1pcod), min(a.admin0pcod),
       ST_Multi(ST_CollectionExtract(ST_Union(a.geom, %(grid)s), 3))
FROM unnest(%(pcods)s::text[], %(names)s::text[]) WITH ORDINALITY AS u(pcod, name, ord)
JOIN geography.admin3 a ON a.admin2pcod = u.pcod
GROUP BY u.pcod, u.name, u.ord
ORDER BY u.ord
"""

# Unions of the exact admin2 geometries, in the order of the given pcods.
ADMIN1_SQL = """
INSERT INTO geography.admin1 (admin1pcod, admin1name, admin0pcod, geom)
SELECT u.pcod, u.name, min(a.admin0pcod), ST_Multi(ST_CollectionExtract(ST_Union(a.geom, %(grid)s), 3))
FROM unnest(%(pcods)s::text[], %(names)s::text[]) WITH ORDINALITY AS u(pcod, name, ord)
JOIN geography.admin2 a ON a.admin1pcod = u.pcod
GROUP BY u.pcod, u.name, u.ord
ORDER BY u.ord
"""
