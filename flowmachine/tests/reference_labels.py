"""Independent pandas computations of the "labels" kinds: location visits, majority and coalesced locations,
mobility classification, labelled aggregates and calendar activity (see reference.py for the rest)."""

from __future__ import annotations

import pandas as pd
import reference as ref
from fixture_data import Fixture

THRESHOLD = 15


def location_visits(frames: list[pd.DataFrame], L: list[str]) -> pd.DataFrame:
    both = pd.concat([f[["subscriber", *L]] for f in frames])
    return both.groupby(["subscriber", *L]).size().rename("value").reset_index()


def majority_location(
    weights: pd.DataFrame,
    L: list[str],
    *,
    minimum_total_weight: float = 0.0,
    include_unlocatable: bool = False,
) -> pd.DataFrame:
    rows = []
    for subscriber, g in weights.groupby("subscriber"):
        total = max(g.value[g.value >= 0].sum(), minimum_total_weight)
        winners = g[g.value > total / 2]
        assert len(winners) <= 1
        if len(winners):
            rows.append(winners.iloc[0][["subscriber", *L]].to_dict())
        elif include_unlocatable:
            rows.append({"subscriber": subscriber, **{c: None for c in L}})
    return pd.DataFrame(rows, columns=["subscriber", *L])


def coalesced_location(
    preferred: pd.DataFrame,
    fallback: pd.DataFrame,
    weights: pd.DataFrame,
    threshold: int,
    L: list[str],
) -> pd.DataFrame:
    enough = weights[weights.value >= threshold]
    fallback = fallback.merge(enough[["subscriber", *L]], on=["subscriber", *L])
    pref = {r.subscriber: r for r in preferred.itertuples(index=False)}
    fall = {r.subscriber: r for r in fallback.itertuples(index=False)}
    rows = []
    for subscriber in sorted(set(pref) | set(fall)):
        p = pref.get(subscriber)
        located = p is not None and all(pd.notna(getattr(p, c)) for c in L)
        source = p if located else fall.get(subscriber)
        rows.append(
            {
                "subscriber": subscriber,
                **{c: None if source is None else getattr(source, c) for c in L},
            }
        )
    return pd.DataFrame(rows, columns=["subscriber", *L])


def mobility_classification(
    frames: list[pd.DataFrame], L: list[str], stay_length_threshold: int
) -> pd.DataFrame:
    """Each period's `subscriber, <L>` (oldest first); a label for each subscriber of the last period."""
    per_sub: dict[str, list] = {}
    for i, f in enumerate(frames):
        for r in f.itertuples(index=False):
            loc = tuple(getattr(r, c) for c in L)
            per_sub.setdefault(r.subscriber, [None] * len(frames))[i] = (
                "NULL" if all(pd.isna(v) for v in loc) else loc
            )
    rows = []
    for subscriber in frames[-1].subscriber:
        seq = per_sub[subscriber]
        if seq[-1] == "NULL":
            label = "unlocated"
        elif any(s is None for s in seq):
            label = "irregular"
        elif any(s == "NULL" for s in seq):
            label = "not_always_locatable"
        else:
            longest, run = 1, 1
            for a, b in zip(seq, seq[1:], strict=False):
                run = run + 1 if a == b else 1
                longest = max(longest, run)
            label = "mobile" if longest < stay_length_threshold else "stable"
        rows.append({"subscriber": subscriber, "value": label})
    return pd.DataFrame(rows, columns=["subscriber", "value"])


def labelled_counts(
    rows: pd.DataFrame, labels: pd.DataFrame, keys: list[str], redact: bool
) -> pd.DataFrame:
    """`<keys>, value_label, value` from `subscriber, <keys>` rows LEFT JOINed to `subscriber, value` labels."""
    j = rows.merge(labels.rename(columns={"value": "value_label"}), on="subscriber", how="left")
    j = j.astype({k: object for k in [*keys, "value_label"]})
    j[[*keys, "value_label"]] = j[[*keys, "value_label"]].where(
        j[[*keys, "value_label"]].notna(), "∅"
    )
    out = j.groupby([*keys, "value_label"]).size().rename("value").reset_index()
    if redact:
        smallest = out.groupby(keys).value.transform("min")
        out = out[smallest > THRESHOLD]
    return out.replace("∅", None)


def flow_pairs(a: pd.DataFrame, b: pd.DataFrame, L: list[str], how: str) -> pd.DataFrame:
    j = a.merge(b, on="subscriber", how=how, suffixes=("_from", "_to"))
    return j[["subscriber", *(f"{c}_from" for c in L), *(f"{c}_to" for c in L)]]


def calendar_activity(
    fx: Fixture, start: str, total_periods: int, length: int, unit: str, **filters
) -> pd.DataFrame:
    """`subscriber, value`: value a tuple of the ISO UTC starts of the periods with events."""
    step = pd.Timedelta(**{unit: length})
    first = pd.Timestamp(start)
    stop = first + step * total_periods
    e = ref.events(fx, str(first), str(stop), **filters)
    period = first + ((e.datetime - first) // step) * step
    e = e.assign(period=period)
    value = e.groupby("subscriber").period.apply(
        lambda p: tuple(t.tz_localize("UTC").isoformat() for t in sorted(set(p)))
    )
    return value.rename("value").reset_index()


def per_value_aggregate(metric: pd.DataFrame, redact: bool) -> pd.DataFrame:
    out = metric.groupby("value").subscriber.nunique().rename("value").rename_axis("grp")
    out = out.reset_index()
    return out[out.value > THRESHOLD] if redact else out
