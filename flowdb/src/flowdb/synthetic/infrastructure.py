"""Synthetic network infrastructure: sites, cells and handset models (TACs), deterministic from a seed.

Sites cluster around weighted "towns" inside the country in `geography`, with some rural sites in between;
every site has one cell and the remaining cells go to randomly chosen (mostly urban) sites. Candidate points
are checked in PostGIS and redrawn until each lies strictly inside the country and in exactly one admin3 unit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import psycopg
from psycopg import sql

from flowdb.errors import FlowDBError
from flowdb.synthetic.config import SyntheticConfig
from flowdb.synthetic.geography import KM_PER_DEG_LAT, place_names

N_TOWNS = 40
RURAL_SHARE = 0.2
MAX_ROUNDS = 200

# Each cell version with the admin units its point falls in; a point on a shared boundary gets the first unit.
CELL_REGIONS_SQL = """
SELECT DISTINCT ON (c.id, c.version)
       c.id AS cell_id, c.version, a.admin1pcod, a.admin2pcod, a.admin3pcod
FROM infrastructure.cells c
JOIN geography.admin3 a ON ST_Intersects(a.geom, c.geom_point)
ORDER BY c.id, c.version, a.admin3pcod
"""

# Which candidate points may hold a site: strictly inside admin0 and in exactly one admin3 unit (a level with
# no rows does not constrain).
_INSIDE_SQL = """
SELECT (NOT EXISTS (SELECT 1 FROM geography.admin0)
        OR EXISTS (SELECT 1 FROM geography.admin0 a WHERE ST_Within(p.pt, a.geom)))
   AND (NOT EXISTS (SELECT 1 FROM geography.admin3)
        OR (SELECT count(*) FROM geography.admin3 a WHERE ST_Intersects(a.geom, p.pt)) = 1)
FROM (SELECT u.ord, ST_SetSRID(ST_MakePoint(u.x, u.y), 4326) AS pt
      FROM unnest(%(x)s::float8[], %(y)s::float8[]) WITH ORDINALITY AS u(x, y, ord)) p
ORDER BY p.ord
"""

_EXTENT_SQL = """
SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)
FROM (SELECT coalesce((SELECT ST_Extent(geom) FROM geography.admin0),
                      (SELECT ST_Extent(geom) FROM geography.admin3))::geometry AS e) x
"""

SITE_COLUMNS = (
    "id", "version", "name", "type", "status", "structure_type", "is_cow", "date_of_first_service",
    "date_of_last_service", "last_updated", "first_added", "geom_point",
)  # fmt: skip
CELL_COLUMNS = (
    "id", "version", "site_id", "name", "type", "msc", "bsc_rnc", "antenna_type", "status", "lac",
    "height", "azimuth", "max_range", "min_range", "electrical_tilt", "mechanical_downtilt",
    "date_of_first_service", "date_of_last_service", "last_updated", "first_added", "geom_point",
)  # fmt: skip
TAC_COLUMNS = (
    "id", "brand", "model", "width", "height", "depth", "weight", "display_type", "display_colors",
    "display_width", "display_height", "hardware_gprs", "hardware_edge", "hardware_umts", "hardware_wifi",
    "hardware_bluetooth", "hardware_gps", "software_os_vendor", "software_os_name", "software_os_version",
    "hnd_type",
)  # fmt: skip


@dataclass(frozen=True)
class Sites:
    """Generated sites, as parallel arrays."""

    ids: list[str]
    names: list[str]
    lon: np.ndarray
    lat: np.ndarray
    town: np.ndarray  # index of the nearest town
    urban: np.ndarray  # placed around a town (True) or in the countryside
    first_service: list[dt.date]


def build_infrastructure(conn: psycopg.Connection, config: SyntheticConfig) -> None:
    """Replace infrastructure.sites, cells and tacs with synthetic ones inside the current geography."""
    if not 1 <= config.n_sites <= config.n_cells:
        raise FlowDBError("N_SITES must be at least 1 and N_CELLS at least N_SITES")
    seed = config.cells_seed
    with conn.transaction():
        conn.execute(
            "SET LOCAL jit = off"
        )  # compiling the point-in-polygon queries costs more than running them
        sites = _generate_sites(conn, np.random.default_rng([seed, 1]), config)
        site_rows = _site_rows(np.random.default_rng([seed, 2]), sites)
        cell_rows = _cell_rows(np.random.default_rng([seed, 3]), sites, config.n_cells)
        tac_rows = tac_catalogue_rows(np.random.default_rng([seed, 4]), config.n_tacs)
        conn.execute(
            # CASCADE: the dfs tables place transactions at cells; a new world makes them meaningless
            "TRUNCATE infrastructure.sites, infrastructure.cells, infrastructure.tacs RESTART IDENTITY CASCADE"
        )
        _copy(conn, "sites", SITE_COLUMNS, site_rows)
        _copy(conn, "cells", CELL_COLUMNS, cell_rows)
        _copy(conn, "tacs", TAC_COLUMNS, tac_rows)
        conn.execute("ANALYZE infrastructure.sites, infrastructure.cells, infrastructure.tacs")


def _copy(
    conn: psycopg.Connection, table: str, columns: tuple[str, ...], rows: list[tuple]
) -> None:
    stmt = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier("infrastructure", table),
        sql.SQL(", ").join(map(sql.Identifier, columns)),
    )
    with conn.cursor() as cur, cur.copy(stmt) as copy:
        for row in rows:
            copy.write_row(row)


def _point(lon: float, lat: float) -> str:
    return f"SRID=4326;POINT({lon!r} {lat!r})"


# -- sites --------------------------------------------------------------------------------------------------
def _inside(conn: psycopg.Connection, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Which of the points may hold a site (see _INSIDE_SQL)."""
    if len(lon) == 0:
        return np.zeros(0, dtype=bool)
    rows = conn.execute(_INSIDE_SQL, {"x": lon.tolist(), "y": lat.tolist()}).fetchall()
    return np.array([bool(r[0]) for r in rows])


def _place(
    conn: psycopg.Connection,
    rng: np.random.Generator,
    extent: tuple[float, ...],
    centre: np.ndarray,
    sigma_km: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """One point per slot: normal around `centre` with `sigma_km`, or uniform in `extent` where sigma is NaN.

    Points outside the country are redrawn; slots that keep failing fall back to uniform draws.
    """
    n = len(centre)
    lon, lat = np.full(n, np.nan), np.full(n, np.nan)
    pending = np.arange(n)
    for round_no in range(MAX_ROUNDS):
        if len(pending) == 0:
            return lon, lat
        c, s = centre[pending], sigma_km[pending]
        if round_no >= MAX_ROUNDS // 4:
            s = np.full(len(pending), np.nan)
        y = c[:, 1] + rng.normal(0.0, 1.0, len(pending)) * s / KM_PER_DEG_LAT
        x = c[:, 0] + rng.normal(0.0, 1.0, len(pending)) * s / (
            KM_PER_DEG_LAT * np.cos(np.radians(c[:, 1]))
        )
        uniform = np.isnan(s)
        x[uniform] = rng.uniform(extent[0], extent[2], int(uniform.sum()))
        y[uniform] = rng.uniform(extent[1], extent[3], int(uniform.sum()))
        x, y = np.round(x, 6), np.round(y, 6)
        ok = _inside(conn, x, y)
        lon[pending[ok]], lat[pending[ok]] = x[ok], y[ok]
        pending = pending[~ok]
    raise FlowDBError(
        "could not place sites inside the country: is the geography empty or degenerate?"
    )


def _generate_sites(
    conn: psycopg.Connection, rng: np.random.Generator, config: SyntheticConfig
) -> Sites:
    n = config.n_sites
    if n > 16**6:
        raise FlowDBError(f"N_SITES must be at most {16**6} (site ids have 6 hex digits), got {n}")
    extent = conn.execute(_EXTENT_SQL).fetchone()
    if extent is None or extent[0] is None:
        raise FlowDBError(
            "no geography to place sites in: build or load geography.admin0/admin3 first"
        )
    extent = tuple(float(v) for v in extent)
    n_towns = min(N_TOWNS, n)
    nowhere = np.full((n_towns, 2), np.nan)
    towns = np.column_stack(_place(conn, rng, extent, nowhere, np.full(n_towns, np.nan)))
    weight = np.sort(rng.lognormal(0.0, 1.0, n_towns))[::-1]
    weight /= weight.sum()
    spread_km = 1.5 + 6.0 * np.sqrt(weight / weight[0])

    urban = rng.random(n) >= RURAL_SHARE
    urban[:n_towns] = True  # every town gets at least one site
    home = rng.choice(n_towns, size=n, p=weight)
    home[:n_towns] = np.arange(n_towns)
    sigma = np.where(urban, spread_km[home], np.nan)
    lon, lat = _place(conn, rng, extent, towns[home], sigma)

    scale = np.cos(np.radians(towns[:, 1].mean()))
    dist = np.hypot((lon[:, None] - towns[None, :, 0]) * scale, lat[:, None] - towns[None, :, 1])
    town = dist.argmin(axis=1)
    town_names = place_names(rng, n_towns)
    rural_names = iter(place_names(rng, int((~urban).sum()), set(town_names)))
    counters = np.zeros(n_towns, dtype=int)
    names = []
    for i in range(n):
        if urban[i]:
            counters[town[i]] += 1
            names.append(f"{town_names[town[i]]} {counters[town[i]]:02d}")
        else:
            names.append(next(rural_names))
    ids = [f"{v:06x}" for v in rng.choice(16**6, size=n, replace=False)]
    age = rng.integers(30, 731, size=n)
    first = [config.start_date - dt.timedelta(days=int(d)) for d in age]
    return Sites(ids, names, lon, lat, town, urban, first)


def _site_rows(rng: np.random.Generator, sites: Sites) -> list[tuple]:
    rows = []
    for i, site_id in enumerate(sites.ids):
        urban = bool(sites.urban[i])
        kind = "micro" if urban and rng.random() < 0.2 else "macro"
        structure = (
            str(rng.choice(["rooftop", "tower", "monopole"], p=[0.45, 0.35, 0.2]))
            if urban
            else str(rng.choice(["tower", "monopole"], p=[0.85, 0.15]))
        )
        first = sites.first_service[i]
        rows.append(
            (
                site_id, 0, sites.names[i], kind, "active", structure, bool(rng.random() < 0.01),
                first, None, first, first, _point(float(sites.lon[i]), float(sites.lat[i])),
            )
        )  # fmt: skip
    return rows


# -- cells --------------------------------------------------------------------------------------------------
def _cell_rows(rng: np.random.Generator, sites: Sites, n_cells: int) -> list[tuple]:
    n_sites = len(sites.ids)
    if n_cells > 16**8:
        raise FlowDBError(
            f"N_CELLS must be at most {16**8} (cell ids have 8 hex digits), got {n_cells}"
        )
    pull = np.where(sites.urban, 3.0, 1.0)
    extra = rng.choice(n_sites, size=n_cells - n_sites, p=pull / pull.sum())
    per_site = 1 + np.bincount(extra, minlength=n_sites)
    ids = iter(f"{v:08x}" for v in rng.choice(16**8, size=n_cells, replace=False))
    rows = []
    for i, site_id in enumerate(sites.ids):
        k = int(per_site[i])
        urban = bool(sites.urban[i])
        town = int(sites.town[i])
        offset = float(rng.uniform(0, 360))
        height = round(float(rng.uniform(15, 35) if urban else rng.uniform(25, 60)), 1)
        first = sites.first_service[i]
        point = _point(float(sites.lon[i]), float(sites.lat[i]))
        for j in range(k):
            tech = str(rng.choice(["2G", "3G", "4G"], p=[0.3, 0.3, 0.4]))
            controller = {"2G": f"BSC{town + 1:02d}", "3G": f"RNC{town // 4 + 1:02d}", "4G": None}[
                tech
            ]
            max_range = rng.uniform(1000, 5000) if urban else rng.uniform(8000, 30000)
            rows.append(
                (
                    next(ids), 0, site_id, f"{sites.names[i]} {tech} S{j + 1}", tech,
                    f"MSC{town % 4 + 1}", controller, "sector" if k > 1 else "omni", "active",
                    str(1000 + town), height, round((offset + j * 360 / k) % 360, 1) if k > 1 else None,
                    round(float(max_range)), 0, int(rng.integers(0, 9)), int(rng.integers(0, 7)),
                    first, None, first, first, point,
                )
            )  # fmt: skip
    return rows


# -- handset models -----------------------------------------------------------------------------------------
BRAND_SHARE = {
    "Samsung": 0.18, "Tecno": 0.16, "Itel": 0.14, "Nokia": 0.12, "Infinix": 0.09,
    "Huawei": 0.08, "Xiaomi": 0.08, "Apple": 0.06, "Alcatel": 0.05, "Motorola": 0.04,
}  # fmt: skip
HND_TYPE_SHARE = {"Smart": 0.6, "Feature": 0.25, "Basic": 0.15}

# (brand, hnd_type, os kind, models); os kind is android, ios, kaios or proprietary.
MODEL_FAMILIES = [
    ("Samsung", "Smart", "android", ["Galaxy A10", "Galaxy A12", "Galaxy A02s", "Galaxy A21s",
                                     "Galaxy A32", "Galaxy A52", "Galaxy J2 Prime", "Galaxy J4",
                                     "Galaxy J7", "Galaxy M12", "Galaxy S9", "Galaxy S10"]),
    ("Samsung", "Feature", "proprietary", ["Guru Music 2", "Metro B350E", "B310E"]),
    ("Samsung", "Basic", "proprietary", ["Guru E1200", "Guru FM Plus"]),
    ("Tecno", "Smart", "android", ["Spark 4", "Spark 5", "Spark 6 Go", "Spark 7", "Camon 12",
                                   "Camon 15", "Camon 17", "Pop 2", "Pop 4", "Pouvoir 4"]),
    ("Tecno", "Feature", "proprietary", ["T484", "T528", "T901"]),
    ("Tecno", "Basic", "proprietary", ["T301", "T312", "T349"]),
    ("Itel", "Smart", "android", ["A16 Plus", "A25", "A48", "P33", "P36", "S15", "Vision 1"]),
    ("Itel", "Feature", "proprietary", ["it5606", "it5626", "Magic 2 4G"]),
    ("Itel", "Basic", "proprietary", ["it2160", "it2163", "it2171", "it2173"]),
    ("Nokia", "Smart", "android", ["1.3", "2.2", "2.3", "3.2", "3.4", "5.3", "C1", "C2", "G10"]),
    ("Nokia", "Feature", "kaios", ["8110 4G", "2720 Flip", "800 Tough"]),
    ("Nokia", "Feature", "proprietary", ["130", "150", "216", "225 4G"]),
    ("Nokia", "Basic", "proprietary", ["105", "106", "110"]),
    ("Infinix", "Smart", "android", ["Hot 8", "Hot 9", "Hot 10", "Hot 10 Play", "Note 7", "Note 8",
                                     "Smart 4", "Smart 5"]),
    ("Huawei", "Smart", "android", ["Y5 2019", "Y6 2019", "Y7 Prime", "Y9 2019", "P20 Lite",
                                    "P30 Lite", "Nova 3i"]),
    ("Xiaomi", "Smart", "android", ["Redmi 7A", "Redmi 8", "Redmi 9A", "Redmi 9C", "Redmi Note 8",
                                    "Redmi Note 9", "Redmi Note 10", "Mi A3"]),
    ("Apple", "Smart", "ios", ["iPhone 6s", "iPhone 7", "iPhone 8", "iPhone X", "iPhone XR",
                               "iPhone 11", "iPhone SE (2020)", "iPhone 12"]),
    ("Alcatel", "Smart", "android", ["1", "1S", "1SE", "3L", "3X", "1B"]),
    ("Alcatel", "Feature", "kaios", ["3088X", "Go Flip", "Go Flip 3"]),
    ("Alcatel", "Basic", "proprietary", ["1066", "2003"]),
    ("Motorola", "Smart", "android", ["Moto E6", "Moto E7", "Moto G7", "Moto G8", "Moto G9 Play"]),
]  # fmt: skip

OS_VERSIONS = {
    "android": ("Google", "Android", ["7.0", "8.1", "9", "10", "11", "12"]),
    "ios": ("Apple", "iOS", ["13.7", "14.8", "15.7", "16.5"]),
    "kaios": ("KaiOS Technologies", "KaiOS", ["2.5", "2.5.1", "2.5.4", "3.0"]),
}


def _model_spec(
    rng: np.random.Generator, brand: str, hnd_type: str, os_kind: str, model: str
) -> tuple:
    """(brand, model, width, height, depth, weight, display..., hardware..., os vendor, name, version, type)."""
    if hnd_type == "Smart":
        dims = (
            rng.uniform(67, 78),
            rng.uniform(138, 168),
            rng.uniform(7.4, 9.6),
            rng.uniform(140, 215),
        )
        display = str(rng.choice(["IPS LCD", "TFT", "AMOLED"], p=[0.6, 0.2, 0.2]))
        res = [(720, 1280), (720, 1520), (720, 1600), (1080, 2340), (1080, 2400)][rng.integers(5)]
        if os_kind == "ios":
            display, res = "Retina IPS LCD", (750, 1334)
        hardware = (True, True, True, True, True, True)
    elif hnd_type == "Feature":
        dims = (
            rng.uniform(49, 56),
            rng.uniform(113, 135),
            rng.uniform(11, 16),
            rng.uniform(80, 125),
        )
        display, res = "TFT", (240, 320)
        modern = os_kind == "kaios"
        hardware = (True, True, modern or "4G" in model, modern, True, modern)
    else:
        dims = (
            rng.uniform(44, 50),
            rng.uniform(104, 116),
            rng.uniform(13, 15.5),
            rng.uniform(65, 88),
        )
        display, res = "TFT", (128, 160)
        hardware = (False, False, False, False, False, False)
    if os_kind == "proprietary":
        vendor, name, version = brand, "Series 30+" if brand == "Nokia" else "Proprietary", None
    else:
        vendor, name, versions = OS_VERSIONS[os_kind]
        version = versions[rng.integers(len(versions))]
    w, h, d, g = (round(float(v), 1) for v in dims)
    return (brand, model, w, h, d, round(g), display, True, res[0], res[1], *hardware, vendor, name, version,
            hnd_type)  # fmt: skip


def tac_catalogue_rows(rng: np.random.Generator, n_tacs: int) -> list[tuple]:
    """`n_tacs` rows for infrastructure.tacs (TAC_COLUMNS): several TACs per model, as in real TAC lists."""
    if n_tacs > 2_000_000:
        raise FlowDBError(f"N_TACS must be at most 2000000, got {n_tacs}")
    specs, weights = [], []
    for brand, hnd_type, os_kind, models in MODEL_FAMILIES:
        siblings = sum(len(f[3]) for f in MODEL_FAMILIES if f[0] == brand and f[1] == hnd_type)
        for model in models:
            specs.append(_model_spec(rng, brand, hnd_type, os_kind, model))
            weights.append(BRAND_SHARE[brand] * HND_TYPE_SHARE[hnd_type] / siblings)
    p = np.array(weights) / sum(weights)
    picks = rng.choice(len(specs), size=n_tacs, p=p)
    draws = np.sort(rng.choice(2_000_000, size=n_tacs, replace=False))
    tac_ids = np.where(draws < 1_000_000, 35_000_000 + draws, 86_000_000 + draws - 1_000_000)
    return [(int(tac), *specs[int(k)]) for tac, k in zip(tac_ids, picks, strict=True)]
