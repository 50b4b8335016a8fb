"""Independent pandas computations of the metrics kinds (see test_query_kinds_metrics.py)."""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pandas as pd
import reference as ref
from fixture_data import Fixture, HandsetsAndTopups


def _frame(rows: dict[str, object]) -> pd.DataFrame:
    return pd.DataFrame({"subscriber": list(rows), "value": list(rows.values())})


def unique_location_counts(fx: Fixture, unit: str, start: str, stop: str, **f) -> pd.DataFrame:
    u = ref.unique_locations(fx, unit, start, stop, **f)
    return u.groupby("subscriber").size().rename("value").reset_index()


def _in_hours(hour: pd.Series, hours: tuple[int, int]) -> pd.Series:
    s, e = hours
    return (hour >= s) & (hour < e) if s < e else (hour >= s) | (hour < e)


def nocturnal_events(
    fx: Fixture, start: str, stop: str, night: tuple[int, int], **f
) -> pd.DataFrame:
    e = ref.events(fx, start, stop, **f)
    e = e.assign(night=_in_hours(e.datetime.dt.hour, night).astype(float))
    return (100 * e.groupby("subscriber").night.mean()).rename("value").reset_index()


def pareto_interactions(fx: Fixture, start: str, stop: str, p: float, **f) -> pd.DataFrame:
    e = ref.events(fx, start, stop, **f)
    out = {}
    for sub, g in e.groupby("subscriber"):
        counts = g.groupby("msisdn_counterpart").size().reset_index(name="n")
        counts = counts.sort_values(["n", "msisdn_counterpart"], ascending=[False, False])
        target = math.ceil(Decimal(int(counts.n.sum())) * Decimal(repr(p)))
        cumulative = counts.n.cumsum().to_numpy()
        k = int(np.argmax(cumulative >= target)) + 1
        out[sub] = k / len(counts)
    return _frame(out)


def total_active_periods(
    fx: Fixture, start: str, total: int, length: int, unit: str, **f
) -> pd.DataFrame:
    step = pd.Timedelta(**{unit: length})
    stop = pd.Timestamp(start) + total * step
    e = ref.events(fx, start, str(stop), **f)
    period = (e.datetime - pd.Timestamp(start)) // step
    return (
        e.assign(period=period).groupby("subscriber").period.nunique().rename("value").reset_index()
    )


def topups(ht: HandsetsAndTopups, start: str, stop: str, hours=None) -> pd.DataFrame:
    t = ht.topups
    t = t[(t.datetime >= pd.Timestamp(start)) & (t.datetime < pd.Timestamp(stop))]
    if hours is not None:
        t = t[_in_hours(t.datetime.dt.hour, hours)]
    return t.rename(columns={"msisdn": "subscriber"})


def _mode(values: pd.Series) -> float:
    counts = values.value_counts()
    return float(min(counts[counts == counts.max()].index))


def statistic(values: pd.Series, name: str) -> float:
    v = values.astype(float)
    return {
        "count": lambda: float(len(v)),
        "sum": v.sum,
        "avg": v.mean,
        "max": v.max,
        "min": v.min,
        "median": v.median,
        "stddev": lambda: v.std(ddof=1),
        "variance": lambda: v.var(ddof=1),
        "mode": lambda: _mode(v),
    }[name]()


def topup_amount(ht: HandsetsAndTopups, start: str, stop: str, stat: str, **f) -> pd.DataFrame:
    t = topups(ht, start, stop, **f)
    return _frame({s: statistic(g.recharge_amount, stat) for s, g in t.groupby("subscriber")})


def _balance_segments(g: pd.DataFrame, start: str, stop: str) -> list[tuple[float, float]]:
    """(seconds held, balance) for one subscriber's top-ups, in time then id order."""
    g = g.sort_values(["datetime", "id"])
    segments = []
    previous_time, previous_post = pd.Timestamp(start), None
    for row in g.itertuples():
        held = (row.datetime - previous_time).total_seconds()
        before = row.pre_event_balance if previous_post is None else previous_post
        segments.append((held, (row.pre_event_balance + before) / 2))
        previous_time, previous_post = row.datetime, row.post_event_balance
    segments.append(((pd.Timestamp(stop) - previous_time).total_seconds(), previous_post))
    return segments


def topup_balance(ht: HandsetsAndTopups, start: str, stop: str, stat: str, **f) -> pd.DataFrame:
    t = topups(ht, start, stop, **f)
    out = {}
    for sub, g in t.groupby("subscriber"):
        if stat in ("count", "max", "min"):
            both = pd.concat([g.pre_event_balance, g.post_event_balance])
            out[sub] = {"count": len(g), "max": both.max(), "min": both.min()}[stat]
            continue
        seg = _balance_segments(g, start, stop)
        w = np.array([s[0] for s in seg])
        b = np.array([s[1] for s in seg])
        mean = (w * b).sum() / w.sum()
        variance = (w * (b - mean) ** 2).sum() / (w.sum() - 1)
        if stat == "median":
            order = np.argsort(b, kind="stable")
            by_balance = pd.Series(w[order]).groupby(b[order]).sum()
            cumulative = by_balance.cumsum()
            out[sub] = float(cumulative.index[np.argmax(cumulative.to_numpy() >= w.sum() / 2)])
        elif stat == "mode":
            held = pd.Series(w).groupby(b).sum()
            out[sub] = float(min(held[held == held.max()].index))
        else:
            out[sub] = {
                "sum": (w * b).sum(),
                "avg": mean,
                "variance": variance,
                "stddev": math.sqrt(variance),
            }[stat]
    return _frame(out)


def handset(
    fx: Fixture, ht: HandsetsAndTopups, start: str, stop: str, characteristic: str, method: str, **f
) -> pd.DataFrame:
    e = ref.events(fx, start, stop, **f).merge(
        ht.event_tacs, on=["cdr_type", "id", "outgoing"], how="left"
    )
    e = e.merge(ht.tacs.rename(columns={"id": "tac"}), on="tac", how="left")
    out = {}
    for sub, g in e.groupby("subscriber"):
        if method == "last":
            known = g[g.tac.notna()].sort_values(["datetime", "tac"])
            out[sub] = known[characteristic].iloc[-1] if len(known) else None
        else:
            values = g[characteristic].dropna()
            if len(values):
                counts = values.value_counts()
                out[sub] = min(counts[counts == counts.max()].index)
            else:
                out[sub] = None
    return _frame(out)


def displacement(
    fx: Fixture, reference_location: pd.DataFrame, start: str, stop: str, stat: str, **f
) -> pd.DataFrame:
    located = ref.located(fx, "lon-lat", start, stop, **f)
    j = located.merge(reference_location, on="subscriber", suffixes=("", "_ref"))
    km = ref._distance_m(
        j.lon.to_numpy(), j.lat.to_numpy(), j.lon_ref.to_numpy(), j.lat_ref.to_numpy()
    )
    j = j.assign(km=np.asarray(km) / 1000)
    return _frame({s: statistic(g.km, stat) for s, g in j.groupby("subscriber")})
