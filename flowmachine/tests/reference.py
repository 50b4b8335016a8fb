"""Independent pandas computations of every query kind over the fixture's events (see fixture_data)."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
from custom_geography_fixture import CUSTOM_UNIT_COLUMNS, CUSTOM_UNITS, custom_mapping
from fixture_data import Fixture, admin1_pcod, admin2_pcod, admin3_pcod

UNIT_COLUMNS = {
    "admin0": ["pcod"],
    "admin1": ["pcod"],
    "admin2": ["pcod"],
    "admin3": ["pcod"],
    "lon-lat": ["lon", "lat"],
    "versioned-cell": ["location_id", "version", "lon", "lat"],
    "versioned-site": ["site_id", "version", "lon", "lat"],
    "cell": ["location_id"],
    **CUSTOM_UNIT_COLUMNS,
}


def _squares(lon: float, lat: float) -> list[tuple[int, int]]:
    """Every admin3 square (ix, iy) whose closed area contains the point."""
    out = []
    for ix in range(4):
        for iy in range(4):
            if 10 + ix <= lon <= 11 + ix and 10 + iy <= lat <= 11 + iy:
                out.append((ix, iy))
    return out


def _admin_pcod(level: int, lon: float, lat: float) -> str | None:
    names = {0: lambda ix, iy: "Z", 1: admin1_pcod, 2: admin2_pcod, 3: admin3_pcod}[level]
    found = sorted({names(ix, iy) for ix, iy in _squares(lon, lat)})
    return found[0] if found else None


def mapping(fx: Fixture, unit: str) -> pd.DataFrame:
    """location_id, first, last, <unit columns> for each cell version."""
    if unit in CUSTOM_UNITS:  # custom geography (custom_geography_fixture)
        return custom_mapping(fx.cells, unit)
    cells = fx.cells.rename(columns={"id": "location_id"})
    if unit.startswith("admin"):
        level = int(unit[-1])
        out = cells.assign(
            pcod=[_admin_pcod(level, x, y) for x, y in zip(cells.lon, cells.lat, strict=True)]
        )
        return out.dropna(subset=["pcod"])[["location_id", "first", "last", "pcod"]]
    if unit == "lon-lat":
        return cells[["location_id", "first", "last", "lon", "lat"]]
    if unit == "versioned-cell":
        return cells[["location_id", "first", "last", "version", "lon", "lat"]]
    if unit == "versioned-site":
        sites = fx.sites.rename(columns={"id": "site_id", "version": "site_version"})
        out = cells.drop(columns=["version", "lon", "lat"]).merge(sites, on="site_id")
        return out.rename(columns={"site_version": "version"})[
            ["location_id", "first", "last", "site_id", "version", "lon", "lat"]
        ]
    raise ValueError(unit)


def events(
    fx: Fixture,
    start: str,
    stop: str,
    *,
    tables: tuple[str, ...] = ("calls", "sms"),
    hours: tuple[int, int] | None = None,
    direction: str = "both",
    subset: set[str] | None = None,
) -> pd.DataFrame:
    e = fx.events
    e = e[
        (e.datetime >= pd.Timestamp(start))
        & (e.datetime < pd.Timestamp(stop))
        & e.cdr_type.isin(tables)
    ]
    if hours is not None:
        h = e.datetime.dt.hour
        s, t = hours
        e = e[(h >= s) & (h < t)] if s < t else e[(h >= s) | (h < t)]
    if direction == "out":
        e = e[e.outgoing]
    elif direction == "in":
        e = e[~e.outgoing]
    if subset is not None:
        e = e[e.msisdn.isin(subset)]
    return e.rename(columns={"msisdn": "subscriber"})


def located(fx: Fixture, unit: str, start: str, stop: str, **filters) -> pd.DataFrame:
    """subscriber, time, location_id, <unit columns>: events mapped through cells valid on the event's day."""
    e = events(fx, start, stop, **filters)
    e = e[e.location_id.notna() & (e.location_id != "")]
    e = e.rename(columns={"datetime": "time"})[["subscriber", "time", "location_id"]]
    if unit == "cell":
        return e
    m = mapping(fx, unit)
    j = e.merge(m, on="location_id")
    day = j.time.dt.date
    ok = j["first"].isna() | (j["first"].map(lambda d: d or dt.date.min) <= day)
    ok &= j["last"].isna() | (j["last"].map(lambda d: d or dt.date.max) >= day)
    cols = ["subscriber", "time", "location_id"] + [
        c for c in UNIT_COLUMNS[unit] if c != "location_id"
    ]
    return j[ok][cols]


# reference locations --------------------------------------------------------------------------------------


def _pick(frame: pd.DataFrame, L: list[str], order: list[tuple[str, bool]]) -> pd.DataFrame:
    """One row per subscriber: the first after sorting by `order` (column, ascending) then L descending."""
    by = ["subscriber"] + [c for c, _ in order] + L
    asc = [True] + [a for _, a in order] + [False] * len(L)
    return frame.sort_values(by, ascending=asc).drop_duplicates("subscriber")[["subscriber", *L]]


def last_location(fx: Fixture, unit: str, start: str, stop: str, **f) -> pd.DataFrame:
    L = UNIT_COLUMNS[unit]
    loc = located(fx, unit, start, stop, **f)
    loc = loc.sort_values(["subscriber", "time", "location_id"], ascending=[True, False, False])
    return loc.drop_duplicates("subscriber")[["subscriber", *L]]


def most_frequent_location(fx: Fixture, unit: str, start: str, stop: str, **f) -> pd.DataFrame:
    L = UNIT_COLUMNS[unit]
    g = (
        located(fx, unit, start, stop, **f)
        .groupby(["subscriber", *L])
        .agg(n=("time", "size"), latest=("time", "max"))
        .reset_index()
    )
    return _pick(g, L, [("n", False), ("latest", False)])


def visited_most_days(fx: Fixture, unit: str, start: str, stop: str, **f) -> pd.DataFrame:
    L = UNIT_COLUMNS[unit]
    loc = located(fx, unit, start, stop, **f)
    loc["day"] = loc.time.dt.date
    g = (
        loc.groupby(["subscriber", *L])
        .agg(days=("day", "nunique"), n=("time", "size"), latest=("time", "max"))
        .reset_index()
    )
    return _pick(g, L, [("days", False), ("n", False), ("latest", False)])


def unique_locations(fx: Fixture, unit: str, start: str, stop: str, **f) -> pd.DataFrame:
    L = UNIT_COLUMNS[unit]
    return located(fx, unit, start, stop, **f)[["subscriber", *L]].drop_duplicates()


def modal_location(days: list[tuple[str, pd.DataFrame]], unit: str) -> pd.DataFrame:
    L = UNIT_COLUMNS[unit]
    votes = pd.concat([frame.assign(date=pd.Timestamp(d)) for d, frame in days])
    g = (
        votes.groupby(["subscriber", *L])
        .agg(n=("date", "size"), latest=("date", "max"))
        .reset_index()
    )
    return _pick(g, L, [("n", False), ("latest", False)])


# metrics ---------------------------------------------------------------------------------------------------


def event_count(fx: Fixture, start: str, stop: str, **f) -> pd.DataFrame:
    e = events(fx, start, stop, **f)
    return e.groupby("subscriber").size().rename("value").reset_index()


def subscriber_degree(fx: Fixture, start: str, stop: str, **f) -> pd.DataFrame:
    e = events(fx, start, stop, **f)
    e = e[e.msisdn_counterpart.notna() & (e.msisdn_counterpart != e.subscriber)]
    return e.groupby("subscriber").msisdn_counterpart.nunique().rename("value").reset_index()


def _distance_m(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Spheroid (WGS 84) distance by Vincenty's inverse formula, in metres."""
    a, f = 6378137.0, 1 / 298.257223563
    b = (1 - f) * a
    out = []
    for x1, y1, x2, y2 in zip(lon1, lat1, lon2, lat2, strict=True):
        if x1 == x2 and y1 == y2:
            out.append(0.0)
            continue
        L = math.radians(x2 - x1)
        U1 = math.atan((1 - f) * math.tan(math.radians(y1)))
        U2 = math.atan((1 - f) * math.tan(math.radians(y2)))
        sinU1, cosU1, sinU2, cosU2 = math.sin(U1), math.cos(U1), math.sin(U2), math.cos(U2)
        lam = L
        for _ in range(200):
            sin_lam, cos_lam = math.sin(lam), math.cos(lam)
            sin_sigma = math.hypot(cosU2 * sin_lam, cosU1 * sinU2 - sinU1 * cosU2 * cos_lam)
            cos_sigma = sinU1 * sinU2 + cosU1 * cosU2 * cos_lam
            sigma = math.atan2(sin_sigma, cos_sigma)
            sin_alpha = cosU1 * cosU2 * sin_lam / sin_sigma
            cos2_alpha = 1 - sin_alpha**2
            cos_2sm = cos_sigma - 2 * sinU1 * sinU2 / cos2_alpha if cos2_alpha else 0.0
            C = f / 16 * cos2_alpha * (4 + f * (4 - 3 * cos2_alpha))
            prev = lam
            lam = L + (1 - C) * f * sin_alpha * (
                sigma + C * sin_sigma * (cos_2sm + C * cos_sigma * (-1 + 2 * cos_2sm**2))
            )
            if abs(lam - prev) < 1e-12:
                break
        u2 = cos2_alpha * (a * a - b * b) / (b * b)
        A = 1 + u2 / 16384 * (4096 + u2 * (-768 + u2 * (320 - 175 * u2)))
        B = u2 / 1024 * (256 + u2 * (-128 + u2 * (74 - 47 * u2)))
        d_sigma = (
            B
            * sin_sigma
            * (
                cos_2sm
                + B
                / 4
                * (
                    cos_sigma * (-1 + 2 * cos_2sm**2)
                    - B / 6 * cos_2sm * (-3 + 4 * sin_sigma**2) * (-3 + 4 * cos_2sm**2)
                )
            )
        )
        out.append(b * A * (sigma - d_sigma))
    return np.array(out)


def radius_of_gyration(fx: Fixture, start: str, stop: str, **f) -> pd.DataFrame:
    loc = located(fx, "lon-lat", start, stop, **f)
    centre = (
        loc.groupby("subscriber")[["lon", "lat"]]
        .mean()
        .rename(columns={"lon": "clon", "lat": "clat"})
    )
    j = loc.join(centre, on="subscriber")
    j["d2"] = _distance_m(j.lon, j.lat, j.clon, j.clat) ** 2
    value = np.sqrt(j.groupby("subscriber").d2.mean()) / 1000
    return value.rename("value").reset_index()


# aggregates ------------------------------------------------------------------------------------------------


def redact(frame: pd.DataFrame, subscribers: pd.Series) -> pd.DataFrame:
    return frame[subscribers.to_numpy() > 15]


def spatial_aggregate(locations: pd.DataFrame, L: list[str], redacted: bool) -> pd.DataFrame:
    out = locations.groupby(L).size().rename("value").reset_index()
    return out[out.value > 15] if redacted else out


def unique_subscriber_counts(loc: pd.DataFrame, L: list[str], redacted: bool) -> pd.DataFrame:
    out = loc.groupby(L).subscriber.nunique().rename("value").reset_index()
    return out[out.value > 15] if redacted else out


def flows(
    a: pd.DataFrame, b: pd.DataFrame, L: list[str], redacted: bool, how: str = "inner"
) -> pd.DataFrame:
    j = a.merge(b, on="subscriber", how=how, suffixes=("_from", "_to"))
    keys = [f"{c}_from" for c in L] + [f"{c}_to" for c in L]
    out = j.groupby(keys, dropna=False).size().rename("value").reset_index()
    return out[out.value > 15] if redacted else out


def flow_totals(
    a: pd.DataFrame, b: pd.DataFrame, L: list[str], side: str, redacted: bool
) -> pd.DataFrame:
    j = a.merge(b, on="subscriber", suffixes=("_from", "_to"))
    keys = [f"{c}_{side}" for c in L]
    out = (
        j.groupby(keys).agg(value=("subscriber", "size"), n=("subscriber", "nunique")).reset_index()
    )
    if redacted:
        out = out[out.n > 15]
    return out.drop(columns="n").rename(columns=dict(zip(keys, L, strict=True)))


def location_event_counts(
    loc: pd.DataFrame, L: list[str], interval: str, redacted: bool
) -> pd.DataFrame:
    loc = loc.assign(
        date=loc.time.dt.date.astype(str), hour=loc.time.dt.hour, min=loc.time.dt.minute
    )
    buckets = {"day": ["date"], "hour": ["date", "hour"], "min": ["date", "hour", "min"]}[interval]
    out = (
        loc.groupby([*L, *buckets])
        .agg(value=("time", "size"), n=("subscriber", "nunique"))
        .reset_index()
    )
    if redacted:
        out = out[out.n > 15]
    return out.drop(columns="n")


def total_network_objects(
    loc: pd.DataFrame, L: list[str], total_by: str, redacted: bool
) -> pd.DataFrame:
    freq = {"day": "D", "hour": "h", "minute": "min", "second": "s"}[total_by]
    loc = loc.assign(datetime=loc.time.dt.floor(freq))
    out = (
        loc.groupby([*L, "datetime"])
        .agg(value=("location_id", "nunique"), n=("subscriber", "nunique"))
        .reset_index()
    )
    if redacted:
        out = out[out.n > 15]
    return out.drop(columns="n")[[*L, "value", "datetime"]]


def joined_spatial_aggregate(
    metric: pd.DataFrame, locations: pd.DataFrame, L: list[str], method: str, redacted: bool
) -> pd.DataFrame:
    j = metric.merge(locations, on="subscriber")
    g = j.groupby(L)
    funcs = {
        "avg": "mean",
        "max": "max",
        "min": "min",
        "sum": "sum",
        "count": "count",
        "median": "median",
        "stddev": "std",
        "variance": "var",
    }
    out = g.value.agg(funcs[method]).rename("value").reset_index()
    if not redacted:
        return out
    # more than 15 with a value, and the located subscribers without one 0 or more than 15
    valued = j[j.value.notna()].groupby(L).subscriber.nunique()
    located = locations.groupby(L).subscriber.nunique()
    keys = out.set_index(L).index
    v = valued.reindex(keys).fillna(0).to_numpy()
    rest = located.reindex(keys).to_numpy() - v
    return out[(v > 15) & ((rest == 0) | (rest > 15))]


def histogram(
    values: pd.Series, bins: int, redacted: bool, value_range: tuple[float, float] | None = None
) -> pd.DataFrame:
    v = values.dropna().astype(float)
    lo, hi = value_range if value_range else (v.min(), v.max())
    edges = [lo + (hi - lo) * i / bins for i in range(bins)] + [hi]
    counts = []
    for i in range(bins):
        if i == bins - 1:
            c = ((v >= edges[i]) & (v <= edges[i + 1])).sum()
        else:
            c = ((v >= edges[i]) & (v < edges[i + 1])).sum()
        counts.append(c)
    if redacted:
        hidden = sum(c for c in counts if c <= 15)  # all blank when the hidden bins hold 1-15
        counts = [c if c > 15 and not 1 <= hidden <= 15 else None for c in counts]
    return pd.DataFrame({"value": counts, "lower_edge": edges[:-1], "upper_edge": edges[1:]})
