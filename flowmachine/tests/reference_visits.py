"""Independent pandas computations of the "visits" query kinds (see reference.py for the shared pieces)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from fixture_data import Fixture
from reference import UNIT_COLUMNS, events, mapping

T = 15


def _keep(out: pd.DataFrame, mask, redacted: bool) -> pd.DataFrame:
    return out[mask].reset_index(drop=True) if redacted else out.reset_index(drop=True)


def active_at_reference_location_counts(
    ul: pd.DataFrame, reference: pd.DataFrame, L: list[str], redacted: bool
) -> pd.DataFrame:
    m = reference.merge(ul.assign(_hit=1), on=["subscriber", *L], how="left")
    out = m.groupby(L, dropna=False)._hit.count().rename("value").reset_index()
    return _keep(out, out.value > T, redacted)


def unique_visitor_parts(
    seen: pd.DataFrame, ul: pd.DataFrame, reference: pd.DataFrame, L: list[str]
) -> pd.DataFrame:
    """Per location: visitors (seen, not active), seen residents, unseen residents."""
    s = seen[["subscriber", *L]].drop_duplicates()
    a = reference.merge(ul, on=["subscriber", *L])[["subscriber", *L]]
    j = s.merge(a, on=["subscriber", *L], how="outer", indicator=True)
    parts = (
        j.groupby(L)["_merge"]
        .value_counts()
        .unstack(fill_value=0)
        .reindex(columns=["left_only", "both", "right_only"], fill_value=0)
    )
    parts.columns = ["visitors", "seen_residents", "unseen_residents"]
    return parts.reset_index()


def unique_visitor_counts(
    seen: pd.DataFrame, ul: pd.DataFrame, reference: pd.DataFrame, L: list[str], redacted: bool
) -> pd.DataFrame:
    p = unique_visitor_parts(seen, ul, reference, L)
    keep = (
        (p.visitors > T)
        & (p.seen_residents > T)
        & ((p.unseen_residents == 0) | (p.unseen_residents > T))
    )
    return _keep(p.rename(columns={"visitors": "value"})[[*L, "value"]], keep, redacted)


def unmoving_counts(ul: pd.DataFrame, L: list[str], redacted: bool) -> pd.DataFrame:
    n = ul.groupby("subscriber").subscriber.transform("size")
    out = ul[n == 1].groupby(L).size().rename("value").reset_index()
    return _keep(out, out.value > T, redacted)


def unmoving_at_reference_location_counts(
    ul: pd.DataFrame, reference: pd.DataFrame, L: list[str], redacted: bool
) -> pd.DataFrame:
    j = reference.merge(ul, on="subscriber", suffixes=("", "_u"))
    j["same"] = True
    for c in L:
        j["same"] &= j[c] == j[f"{c}_u"]
    per = j.groupby(["subscriber", *L], dropna=False).same.all().reset_index()
    out = per.groupby(L, dropna=False).same.sum().rename("value").reset_index()
    return _keep(out, out.value > T, redacted)


def _od(pairs: pd.DataFrame, L: list[str], redacted: bool) -> pd.DataFrame:
    keys = [f"{c}_from" for c in L] + [f"{c}_to" for c in L]
    out = pairs.drop_duplicates(["subscriber", *keys]).groupby(keys).size().rename("value")
    out = out.reset_index()
    return _keep(out, out.value > T, redacted)


def trips_od_matrix(loc: pd.DataFrame, L: list[str], redacted: bool) -> pd.DataFrame:
    v = loc.groupby(["subscriber", *L]).time.agg(["min", "max"]).reset_index()
    j = v.merge(v, on="subscriber", suffixes=("_from", "_to"))
    differ = pd.Series(False, index=j.index)
    for c in L:
        differ |= j[f"{c}_from"] != j[f"{c}_to"]
    return _od(j[differ & (j.min_from < j.max_to)], L, redacted)


def consecutive_trips_od_matrix(loc: pd.DataFrame, L: list[str], redacted: bool) -> pd.DataFrame:
    order = ["subscriber", "time", "location_id", *(c for c in L if c != "location_id")]
    e = loc.sort_values(order).reset_index(drop=True)
    nxt = e.groupby("subscriber")[L].shift(-1)
    has_next = e.groupby("subscriber").cumcount(ascending=False) > 0
    pairs = pd.concat(
        [
            e[["subscriber"]],
            e[L].add_suffix("_from"),
            nxt.add_suffix("_to"),
        ],
        axis=1,
    )[has_next]
    return _od(pairs, L, redacted)


def located_legs(fx: Fixture, unit: str, start: str, stop: str, **f) -> pd.DataFrame:
    """cdr_type, id, outgoing, subscriber, <unit columns> of each located event."""
    e = events(fx, start, stop, **f)
    e = e[e.location_id.notna() & (e.location_id != "")]
    L = UNIT_COLUMNS[unit]
    keep = ["cdr_type", "id", "outgoing", "subscriber", "location_id"]
    if unit == "cell":
        return e[keep]
    j = e.merge(mapping(fx, unit), on="location_id")
    day = j.datetime.dt.date
    ok = j["first"].isna() | (j["first"].map(lambda d: d or dt.date.min) <= day)
    ok &= j["last"].isna() | (j["last"].map(lambda d: d or dt.date.max) >= day)
    return j[ok][keep + [c for c in L if c != "location_id"]]


def location_introversion(
    fx: Fixture, unit: str, start: str, stop: str, redacted: bool, direction: str = "both", **f
) -> pd.DataFrame:
    L = UNIT_COLUMNS[unit]
    b = located_legs(fx, unit, start, stop, **f)
    a = located_legs(fx, unit, start, stop, direction=direction, **f)
    j = a.merge(b, on=["cdr_type", "id"], suffixes=("", "_b"))
    j = j[j.outgoing != j.outgoing_b]
    j["same"] = True
    for c in L:
        j["same"] &= j[c] == j[f"{c}_b"]
    g = j.groupby(L).agg(value=("same", "mean"), n=("subscriber", "nunique")).reset_index()
    return _keep(g[[*L, "value"]], g.n > T, redacted)
