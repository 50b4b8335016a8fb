"""Complement attacks within one release and its published total: joined_spatial_aggregate (FlowKit issue
#1940 and its numeric sibling) and histogram_aggregate (suppressed bins against a one-bin total).

An analyst holds two published outputs over the same reference locations: the joined spatial aggregate and the
spatial_aggregate of its `locations` (the subscribers located at each place, N). From them:

- `distr`: 1 − Σ(published shares) is the hidden categories' share; × N it is their count. If the shares are
  over the published categories only, their common denominator P (recovered from the exact fractions) gives
  N − P. Either way a hidden category can be recovered.
- numeric methods: `count` (or sum / avg) gives how many located subscribers have a metric value, so N minus
  it counts the located subscribers without one.

- histograms: a one-bin histogram over the same range is the total; minus the published bins of another
  histogram it counts the suppressed bins.

The published outputs must leave every such recovered count at 0 or above 15.
"""

from __future__ import annotations

from fractions import Fraction
from math import lcm

import pandas as pd
import pytest
import reference as ref
import reference_metrics as refm
from test_query_kinds import result

from flowmachine.core.spatial_unit import make_spatial_unit
from flowmachine.features.location.joined_spatial_aggregate import JoinedSpatialAggregate
from flowmachine.features.location.spatial_aggregate import SpatialAggregate
from flowmachine.features.nonspatial_aggregates.histogram_aggregation import HistogramAggregation
from flowmachine.features.subscriber.daily_location import daily_location
from flowmachine.features.subscriber.event_count import EventCount
from flowmachine.features.subscriber.handset import SubscriberHandsetCharacteristic

GEN = ("2016-03-01", "2016-03-06")
DAY = "2016-03-05"
# the handset window ends before the location's day, so some located subscribers have no handset
HANDSET_WINDOW = ("2016-03-01", "2016-03-03")


@pytest.fixture(scope="module")
def ht(flowdb_cluster, fixture_db):
    from fixture_data import load_handsets_and_topups

    with flowdb_cluster.connect() as conn:
        return load_handsets_and_topups(conn, fixture_db)


def small(n: float) -> bool:
    return 1 <= round(n) <= 15


def recovered_from_distr(shares: pd.Series, located: int) -> list[int]:
    """What an attacker recovers about one location's hidden part from its published shares and N."""
    found = [round(located * (1 - float(shares.sum())))]
    # shares over the published categories only: their exact common denominator P (shares are k/P, P ≤ N)
    denominators = [Fraction(float(s)).limit_denominator(located).denominator for s in shares]
    step = lcm(*denominators)
    candidates = [p for p in range(step, located + 1, step)]
    if len(candidates) == 1:
        found.append(located - candidates[0])
    return found


@pytest.mark.parametrize("unit", ["admin2", "admin3"])
@pytest.mark.parametrize("characteristic", ["brand", "model"])
def test_distr_complement_against_spatial_aggregate(ctx, fixture_db, ht, unit, characteristic):
    locations = daily_location(DAY, make_spatial_unit(unit))
    metric = SubscriberHandsetCharacteristic(*HANDSET_WINDOW, characteristic, method="last")
    distr = result(ctx, JoinedSpatialAggregate(metric, locations, method="distr"))
    located = result(ctx, SpatialAggregate(locations)).set_index("pcod").value

    # the truth: the attack has something to find (a published location whose categories are not all > 15,
    # or some of whose located subscribers have no handset)
    truth = refm.handset(fixture_db, ht, *HANDSET_WINDOW, characteristic, "last").merge(
        ref.last_location(fixture_db, unit, DAY, "2016-03-06"), on="subscriber", how="right"
    )
    per_key = truth.groupby(["pcod", "value"], dropna=False).subscriber.nunique()
    exposed = {
        p
        for p, n in located.items()
        if (per_key.loc[p] <= 15).any() or truth[truth.pcod == p].value.isna().any()
    }
    assert exposed, "the fixture gives the attack nothing to find"

    leaks = {}
    for pcod, rows in distr.groupby("pcod"):
        if pcod not in located.index:
            continue
        hidden = [n for n in recovered_from_distr(rows.value, int(located[pcod])) if small(n)]
        if hidden:
            leaks[pcod] = hidden
    assert not leaks, f"hidden categories recovered (location: counts): {leaks}"
    # what is published is a whole distribution: shares over the described subscribers sum to 1
    for _, rows in distr.groupby("pcod"):
        assert rows.value.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("method", ["count", "sum"])
def test_metricless_complement_against_spatial_aggregate(ctx, fixture_db, method):
    """`count` of a metric from another window, against the located count: the located subscribers without
    a metric value (not active in the metric's window) must not be recoverable when there are 1–15."""
    locations = daily_location(DAY, make_spatial_unit("admin3"))
    metric = EventCount("2016-03-01", "2016-03-02")
    published = result(ctx, JoinedSpatialAggregate(metric, locations, method=method))
    located = result(ctx, SpatialAggregate(locations)).set_index("pcod").value
    valued = published.set_index("pcod").value
    if method == "sum":  # sum / avg = count
        avg = result(ctx, JoinedSpatialAggregate(metric, locations, method="avg")).set_index("pcod")
        valued = (valued / avg.value).round()
    truth = ref.event_count(fixture_db, "2016-03-01", "2016-03-02").merge(
        ref.last_location(fixture_db, "admin3", DAY, "2016-03-06"), on="subscriber", how="right"
    )
    missing = truth[truth.value.isna()].groupby("pcod").subscriber.nunique()
    assert any(small(missing.get(p, 0)) for p in located.index), "nothing to find"
    leaks = {
        p: int(located[p] - valued[p])
        for p in valued.index
        if p in located.index and small(located[p] - valued[p])
    }
    assert not leaks, f"located subscribers without a metric value recovered: {leaks}"


def test_histogram_hidden_bin_against_one_bin_total(ctx, fixture_db):
    counts = ref.event_count(fixture_db, *GEN).value.astype(float)
    per_value = counts.value_counts().sort_index()
    # a value held by 1-15 subscribers with more than 15 below and above it: its own bin
    target = next(
        v
        for v, n in per_value.items()
        if 1 <= n <= 15 and (counts < v).sum() > 15 and (counts > v).sum() > 15
    )
    top = float(counts.max())
    edges = [0.0, target, target + 0.5, top]
    three = result(ctx, HistogramAggregation(EventCount(*GEN), bins=edges)).value
    one = result(ctx, HistogramAggregation(EventCount(*GEN), bins=[0.0, top])).value
    assert one.notna().all()  # the total is published
    recovered = float(one.iloc[0]) - float(three.fillna(0).sum())
    assert not small(recovered), f"{recovered:.0f} subscribers with {target} events recovered"
