"""Property: whatever the spec, no published row rests on 15 or fewer subscribers.

Random specs (kinds, units, windows, hours, event types, directions) over the fixture's generated days; for
each, the subscribers behind every output row are counted independently with pandas.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import reference as ref
from custom_geography_fixture import CUSTOM_UNITS, unit_for

from flowmachine.core.cache import compute
from flowmachine.core.spatial_unit import make_spatial_unit
from flowmachine.features.location.flows import Flows, InFlow, OutFlow
from flowmachine.features.location.joined_spatial_aggregate import JoinedSpatialAggregate
from flowmachine.features.location.location_event_counts import LocationEventCounts
from flowmachine.features.location.spatial_aggregate import SpatialAggregate
from flowmachine.features.location.total_network_objects import TotalNetworkObjects
from flowmachine.features.location.unique_subscriber_counts import UniqueSubscriberCounts
from flowmachine.features.nonspatial_aggregates.histogram_aggregation import HistogramAggregation
from flowmachine.features.subscriber.event_count import EventCount
from flowmachine.features.subscriber.last_location import LastLocation
from flowmachine.features.subscriber.most_frequent_location import MostFrequentLocation
from flowmachine.features.subscriber.nocturnal_events import NocturnalEvents
from flowmachine.features.subscriber.pareto_interactions import ParetoInteractions
from flowmachine.features.subscriber.total_active_periods import TotalActivePeriodsSubscriber
from flowmachine.features.subscriber.unique_location_counts import UniqueLocationCounts
from flowmachine.features.subscriber.unique_locations import UniqueLocations
from flowmachine.features.subscriber.visited_most_days import VisitedMostDays

DAYS = pd.date_range("2016-03-01", "2016-03-05").strftime("%Y-%m-%d").tolist()
UNITS = ["admin0", "admin1", "admin2", "admin3", "lon-lat", "versioned-site", "cell"]
N_SPECS = 40


def _spec(rng: np.random.Generator) -> dict:
    i = int(rng.integers(0, len(DAYS)))
    j = int(rng.integers(i + 1, len(DAYS) + 1))
    stop = str((pd.Timestamp(DAYS[j - 1]) + pd.Timedelta(days=1)).date())
    hours = None
    if rng.random() < 0.4:
        s, e = (int(x) for x in rng.choice(24, size=2, replace=False))
        hours = (s, e)
    tables = [["calls"], ["sms"], ["calls", "sms"], None][int(rng.integers(0, 4))]
    return {
        "start": DAYS[i],
        "stop": stop,
        "unit": UNITS[int(rng.integers(0, len(UNITS)))],
        "hours": hours,
        "tables": tables,
        "direction": ["in", "out", "both"][int(rng.integers(0, 3))],
        "kind": int(rng.integers(0, 8)),
        "interval": ["day", "hour", "min"][int(rng.integers(0, 3))],
        "metric": int(rng.integers(0, len(METRICS))),
    }


def _filters(spec: dict) -> dict:
    f = {}
    if spec["hours"] is not None:
        f["hours"] = spec["hours"]
    if spec["tables"] is not None:
        f["tables"] = tuple(spec["tables"])
    return f


LOCATION_KINDS = [
    (LastLocation, ref.last_location),
    (MostFrequentLocation, ref.most_frequent_location),
    (VisitedMostDays, ref.visited_most_days),
]


def _case(spec: dict, fx):
    """(query, support) where support maps each possible output key tuple to its subscribers behind it."""
    unit = unit_for(spec["unit"])
    L = ref.UNIT_COLUMNS[spec["unit"]]
    kw = {"hours": spec["hours"], "tables": spec["tables"]}
    window = (spec["start"], spec["stop"])
    f = _filters(spec)
    kind = spec["kind"]
    if kind <= 2:
        cls, reference = LOCATION_KINDS[kind]
        q = SpatialAggregate(cls(*window, unit, **kw))
        locs = reference(fx, spec["unit"], *window, **f)
        return q, locs.groupby(L).subscriber.nunique(), L
    if kind == 3:
        q = UniqueSubscriberCounts(*window, unit, **kw)
        return q, ref.located(fx, spec["unit"], *window, **f).groupby(L).subscriber.nunique(), L
    if kind == 4:
        q = LocationEventCounts(
            *window, unit, interval=spec["interval"], direction=spec["direction"], **kw
        )
        loc = ref.located(fx, spec["unit"], *window, direction=spec["direction"], **f)
        loc = loc.assign(
            date=loc.time.dt.date.astype(str), hour=loc.time.dt.hour, min=loc.time.dt.minute
        )
        keys = (
            L
            + {"day": ["date"], "hour": ["date", "hour"], "min": ["date", "hour", "min"]}[
                spec["interval"]
            ]
        )
        return q, loc.groupby(keys).subscriber.nunique(), keys
    if kind == 5:
        a = UniqueLocations(
            spec["start"],
            str((pd.Timestamp(spec["start"]) + pd.Timedelta(days=1)).date()),
            unit,
            **kw,
        )
        b = UniqueLocations(*window, unit, **kw)
        cls = [Flows, InFlow, OutFlow][len(spec["start"]) % 3 if spec["hours"] is None else 0]
        ua = ref.unique_locations(
            fx, spec["unit"], a.start.date().isoformat(), a.stop.date().isoformat(), **f
        )
        ub = ref.unique_locations(fx, spec["unit"], *window, **f)
        j = ua.merge(ub, on="subscriber", suffixes=("_from", "_to"))
        if cls is Flows:
            keys = [f"{c}_from" for c in L] + [f"{c}_to" for c in L]
            return cls(a, b), j.groupby(keys).subscriber.nunique(), keys
        side = "to" if cls is InFlow else "from"
        support = j.groupby([f"{c}_{side}" for c in L]).subscriber.nunique()
        support.index.names = L
        return cls(a, b), support, L
    if kind == 6:
        if unit.is_network_object:
            unit, spec["unit"], L = make_spatial_unit("admin3"), "admin3", ["pcod"]
        q = TotalNetworkObjects(*window, unit, total_by="hour", **kw)
        loc = ref.located(fx, spec["unit"], *window, **f)
        loc = loc.assign(datetime=loc.time.dt.floor("h").dt.tz_localize("UTC"))
        return q, loc.groupby([*L, "datetime"]).subscriber.nunique(), [*L, "datetime"]
    metric = METRICS[spec["metric"]](spec, unit, window, kw)
    locations = LastLocation(*window, unit, **kw)
    q = JoinedSpatialAggregate(metric, locations, method="avg")
    members = ref.event_count(fx, *window, **f)
    if isinstance(metric, NocturnalEvents):  # no hours filter on its events
        members = ref.event_count(fx, *window, **{k: v for k, v in f.items() if k != "hours"})
    elif isinstance(metric, UniqueLocationCounts):  # located events only
        members = ref.unique_locations(fx, spec["unit"], *window, **f)[
            ["subscriber"]
        ].drop_duplicates()
    j = members.merge(ref.last_location(fx, spec["unit"], *window, **f), on="subscriber")
    return q, j.groupby(L).subscriber.nunique(), L


# Metrics for joined_spatial_aggregate: (spec, unit, window, filters) -> query.
METRICS = [
    lambda spec, unit, window, kw: EventCount(*window, **kw),
    lambda spec, unit, window, kw: UniqueLocationCounts(*window, unit, **kw),
    lambda spec, unit, window, kw: NocturnalEvents(*window, tables=kw["tables"]),
    lambda spec, unit, window, kw: ParetoInteractions(*window, proportion=0.5, **kw),
    lambda spec, unit, window, kw: TotalActivePeriodsSubscriber(
        window[0], (pd.Timestamp(window[1]) - pd.Timestamp(window[0])).days, **kw
    ),
]


def _key(row: pd.Series, keys: list[str]):
    values = []
    for k in keys:
        v = row[k]
        if isinstance(v, pd.Timestamp):
            v = v.tz_convert("UTC") if v.tzinfo else v.tz_localize("UTC")
        elif hasattr(v, "as_integer_ratio") and not isinstance(v, int):
            v = float(v)
        values.append(v)
    return values[0] if len(values) == 1 else tuple(values)


@pytest.mark.parametrize("seed", range(N_SPECS))
def test_no_row_rests_on_fifteen_or_fewer_subscribers(ctx, fixture_db, seed):
    _check_spec(ctx, fixture_db, _spec(np.random.default_rng(seed)))


@pytest.mark.parametrize("seed", range(len(CUSTOM_UNITS) * 4))
def test_custom_geography_units_publish_no_row_on_fifteen_or_fewer(
    ctx, fixture_db, custom_geography_db, seed
):
    """The same property for the custom units: a polygon layer, admin and lon-lat with custom tables."""
    spec = _spec(np.random.default_rng(1000 + seed))
    spec["unit"] = list(CUSTOM_UNITS)[seed % len(CUSTOM_UNITS)]
    _check_spec(ctx, fixture_db, spec)


def _check_spec(ctx, fixture_db, spec: dict) -> None:
    q, support, keys = _case(spec, fixture_db)
    compute(ctx, q)
    df = q.get_dataframe(ctx)
    lookup = {}
    for k, n in support.items():
        k = tuple(
            float(x) if isinstance(x, np.floating) else (int(x) if isinstance(x, np.integer) else x)
            for x in (k if isinstance(k, tuple) else (k,))
        )
        lookup[k[0] if len(k) == 1 else k] = n
    for _, row in df.iterrows():
        key = _key(row, keys)
        assert lookup.get(key, 0) > 15, (
            f"{spec}: row {dict(row)} rests on {lookup.get(key, 0)} subscribers"
        )
    # and redaction is not vacuous: every key with more than 15 subscribers is published
    published = {_key(row, keys) for _, row in df.iterrows()}
    assert published == {k for k, n in lookup.items() if n > 15}, spec


def test_histogram_bins_rest_on_more_than_fifteen(ctx, fixture_db):
    q = HistogramAggregation(EventCount("2016-03-01", "2016-03-06"), bins=25)
    df = q.get_dataframe(ctx)
    counts = ref.histogram(ref.event_count(fixture_db, "2016-03-01", "2016-03-06").value, 25, False)
    assert df.value.isna().any() and df.value.notna().any()
    for published, raw in zip(df.value, counts.value, strict=True):
        assert (pd.isna(published) and raw <= 15) or (published == raw and raw > 15)


@pytest.mark.parametrize("metric", range(len(METRICS)))
@pytest.mark.parametrize("seed", range(3))
def test_joined_metrics_rest_on_more_than_fifteen(ctx, fixture_db, metric, seed):
    """Every metric of METRICS in joined_spatial_aggregate, on random windows, units and filters."""
    spec = _spec(np.random.default_rng(1000 + seed)) | {"kind": 7, "metric": metric}
    _check_spec(ctx, fixture_db, spec)
