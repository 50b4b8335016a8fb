"""Sampling attacks on the library: a count aggregate of a random sample, differenced against the same aggregate
of the unsampled input (or against a sample of another size with the same seed), must not count 1–15
subscribers. Expected rows are computed independently in pandas from the individual-level rows."""

from __future__ import annotations

import pandas as pd
import pytest
from test_query_kinds import result

from flowmachine.core.errors import InvalidSpecError
from flowmachine.core.random_sample import RandomSample
from flowmachine.core.spatial_unit import make_spatial_unit
from flowmachine.features.location.active_at_reference_location_counts import (
    ActiveAtReferenceLocationCounts,
    UniqueVisitorCounts,
    UnmovingAtReferenceLocationCounts,
    UnmovingCounts,
)
from flowmachine.features.location.flows import Flows, InFlow, OutFlow
from flowmachine.features.location.joined_spatial_aggregate import JoinedSpatialAggregate
from flowmachine.features.location.labelled_spatial_aggregate import (
    LabelledFlows,
    LabelledSpatialAggregate,
)
from flowmachine.features.location.spatial_aggregate import SpatialAggregate
from flowmachine.features.location.unique_subscriber_counts import UniqueSubscriberCounts
from flowmachine.features.nonspatial_aggregates.histogram_aggregation import HistogramAggregation
from flowmachine.features.subscriber.calendar_activity import CalendarActivity
from flowmachine.features.subscriber.daily_location import daily_location
from flowmachine.features.subscriber.event_count import EventCount
from flowmachine.features.subscriber.location_visits import LocationVisits
from flowmachine.features.subscriber.majority_location import MajorityLocation
from flowmachine.features.subscriber.unique_locations import UniqueLocations

DAY1, DAY2 = "2016-03-02", "2016-03-03"  # 393 subscribers located on the first, 7 admin3 regions


def small(n: float) -> bool:
    return 1 <= round(n) <= 15


def expected_counts(full: pd.Series, sampled: pd.Series) -> pd.Series:
    """Per key: published only if the sample's count is over 15 and it leaves out 0 or more than 15."""
    both = pd.concat({"full": full, "sampled": sampled}, axis=1).fillna(0)
    keep = (both.sampled > 15) & ~(both.full - both.sampled).abs().between(1, 15)
    return both.sampled[keep].astype(int).sort_index()


SAMPLES = [
    {"sampling_method": "random_ids", "seed": 0.5, "size": 380},  # leaves out 13 in all
    {"sampling_method": "random_ids", "seed": -0.2, "fraction": 0.9},
    {"sampling_method": "bernoulli", "seed": 0.1, "fraction": 0.9},
    {"sampling_method": "system", "seed": 0.3, "fraction": 0.9},
]


@pytest.mark.parametrize("sampling", SAMPLES, ids=lambda s: s["sampling_method"])
def test_spatial_aggregate_of_a_sample_leaves_out_none_or_many(ctx, fixture_db, sampling):
    locations = daily_location(DAY1, make_spatial_unit("admin3"))
    sample = RandomSample(locations, **sampling)
    rows, sampled_rows = result(ctx, locations), result(ctx, sample)
    full = rows.groupby("pcod").size()
    got = result(ctx, SpatialAggregate(sample)).set_index("pcod").value.sort_index()
    expected = expected_counts(full, sampled_rows.groupby("pcod").size())
    assert got.to_dict() == expected.to_dict()
    published_full = result(ctx, SpatialAggregate(locations)).set_index("pcod").value
    recovered = published_full.reindex(got.index) - got
    assert not any(small(v) for v in recovered), recovered


def test_the_random_ids_attack_recovered_small_counts_before(ctx, fixture_db):
    """The data make the attack bite: the >15 rule alone would publish sampled counts 1–15 below the full."""
    locations = daily_location(DAY1, make_spatial_unit("admin3"))
    full = result(ctx, locations).groupby("pcod").size()
    sampled = result(ctx, RandomSample(locations, **SAMPLES[0])).groupby("pcod").size()
    assert any((sampled > 15) & (full - sampled).between(1, 15))


def test_flows_of_a_sample_leave_out_none_or_many(ctx, fixture_db):
    unit = make_spatial_unit("admin2")
    a, b = daily_location(DAY1, unit), daily_location(DAY2, unit)
    sample = RandomSample(a, sampling_method="random_ids", seed=0.25, fraction=0.85)
    pairs = result(ctx, a).merge(result(ctx, b), on="subscriber", suffixes=("_from", "_to"))
    sampled_pairs = result(ctx, sample).merge(
        result(ctx, b), on="subscriber", suffixes=("_from", "_to")
    )
    full = pairs.groupby(["pcod_from", "pcod_to"]).size()
    sampled = sampled_pairs.groupby(["pcod_from", "pcod_to"]).size()
    assert any((sampled > 15) & (full.reindex(sampled.index) - sampled).between(1, 15))
    got = result(ctx, Flows(sample, b)).set_index(["pcod_from", "pcod_to"]).value.sort_index()
    expected = expected_counts(full, sampled)
    assert len(expected) > 0 and got.to_dict() == expected.to_dict()


@pytest.mark.parametrize("kind,side", [(OutFlow, "pcod_from"), (InFlow, "pcod_to")])
def test_flow_totals_of_a_sample_leave_out_none_or_many(ctx, fixture_db, kind, side):
    unit = make_spatial_unit("admin3")
    a, b = daily_location(DAY1, unit), daily_location(DAY2, unit)
    sample = RandomSample(a, sampling_method="bernoulli", seed=0.7, fraction=0.85)
    suffixes = ("_from", "_to")
    full = result(ctx, a).merge(result(ctx, b), on="subscriber", suffixes=suffixes)
    sampled = result(ctx, sample).merge(result(ctx, b), on="subscriber", suffixes=suffixes)
    full_counts, sampled_counts = full.groupby(side).size(), sampled.groupby(side).size()
    assert any((sampled_counts > 15) & (full_counts - sampled_counts).between(1, 15))
    got = result(ctx, kind(sample, b)).set_index("pcod").value
    expected = expected_counts(full_counts, sampled_counts)
    assert len(expected) > 0 and got.to_dict() == expected.to_dict()


@pytest.mark.parametrize(
    "kind", [ActiveAtReferenceLocationCounts, UnmovingAtReferenceLocationCounts]
)
def test_reference_location_counts_of_a_sample_leave_out_none_or_many(ctx, fixture_db, kind):
    unit = make_spatial_unit("admin3")
    reference = daily_location(DAY1, unit)
    visits = UniqueLocations(
        DAY1, DAY2, unit
    )  # the reference day itself: every subscriber is seen there
    sample = RandomSample(reference, sampling_method="bernoulli", seed=0.7, fraction=0.75)
    seen = result(ctx, visits)
    n_places = seen.groupby("subscriber").size()

    def counted(ref_rows: pd.DataFrame) -> pd.Series:
        rows = ref_rows.merge(seen, on=["subscriber", "pcod"])  # seen at their reference location
        if kind is UnmovingAtReferenceLocationCounts:
            rows = rows[rows.subscriber.map(n_places) == 1]
        return rows.groupby("pcod").size()

    full, sampled = counted(result(ctx, reference)), counted(result(ctx, sample))
    assert any((sampled > 15) & (full.reindex(sampled.index) - sampled).between(1, 15))
    got = result(ctx, kind(visits, sample)).set_index("pcod").value
    # (for unmoving counts only Z.1.1.00 is over 15, and the sample leaves out 1–15 of it: nothing published)
    assert got.to_dict() == expected_counts(full, sampled).to_dict()


@pytest.mark.parametrize(
    "method,small_size,big_size",
    [
        ("random_ids", {"size": 225}, {"size": 226}),
        ("random_ids", {"fraction": 0.5}, {"fraction": 0.51}),
        ("bernoulli", {"fraction": 0.5}, {"fraction": 0.51}),
    ],
)
def test_samples_of_different_sizes_are_not_nested(ctx, fixture_db, method, small_size, big_size):
    """For one seed, the smaller sample is not inside the larger one (else their difference is a small
    group: one subscriber for sizes n and n + 1)."""
    locations = daily_location(DAY1, make_spatial_unit("admin3"))
    smaller = result(ctx, RandomSample(locations, sampling_method=method, seed=0.5, **small_size))
    larger = result(ctx, RandomSample(locations, sampling_method=method, seed=0.5, **big_size))
    assert not set(smaller.subscriber) <= set(larger.subscriber)


def test_a_sample_nested_inside_an_input_is_refused():
    visits = LocationVisits([daily_location(d, make_spatial_unit("admin3")) for d in (DAY1, DAY2)])
    sample = RandomSample(visits, sampling_method="random_ids", seed=0.5, size=100)
    with pytest.raises(InvalidSpecError, match="direct input"):
        SpatialAggregate(MajorityLocation(sample))


def test_the_server_refuses_a_nested_sample_with_a_clear_error(zmq_client):
    daily = {"query_kind": "daily_location", "aggregation_unit": "admin3", "method": "last"}
    visits = {
        "query_kind": "location_visits",
        "locations": [{**daily, "date": DAY1}, {**daily, "date": DAY2}],
        "sampling": {"sampling_method": "random_ids", "seed": 0.5, "size": 100},
    }
    spec = {
        "query_kind": "spatial_aggregate",
        "locations": {"query_kind": "majority_location", "subscriber_location_weights": visits},
    }
    reply = zmq_client.request("run_query", **spec)
    assert reply["status"] == "error", reply
    assert "direct input" in reply["payload"]["exception"]
    # the same sample as the direct input is run
    direct = {**spec, "locations": {**daily, "date": DAY1, "sampling": visits["sampling"]}}
    assert zmq_client.request("run_query", **direct)["status"] == "success"


# the other kinds that accept a sampled input --------------------------------------------------------------


def leaves_out_none_or_many(full: pd.Series, sampled: pd.Series) -> pd.Series:
    """Per key of `sampled`: whether its count differs from `full`'s (0 where missing) by 0 or over 15."""
    return ~(full.reindex(sampled.index).fillna(0) - sampled).abs().between(1, 15)


@pytest.mark.parametrize("sampled_side", ["locations", "metric"])
def test_joined_spatial_aggregate_of_a_sample_leaves_out_none_or_many(
    ctx, fixture_db, sampled_side
):
    """`count` of a metric per location over a sample (of the locations or of the metric): published only
    where the sample leaves out 0 or more than 15 of the located and of the valued subscribers, so neither
    the unsampled spatial_aggregate nor the unsampled joined aggregate minus it counts 1–15."""
    locations = daily_location(DAY1, make_spatial_unit("admin3"))
    metric = EventCount(DAY1, DAY2)  # every located subscriber has a value
    sampling = {"sampling_method": "bernoulli", "seed": 0.1, "fraction": 0.7}
    if sampled_side == "locations":
        s_locations, s_metric = RandomSample(locations, **sampling), metric
    else:
        s_locations, s_metric = locations, RandomSample(metric, **sampling)

    def counts(loc_rows: pd.DataFrame, metric_rows: pd.DataFrame) -> pd.DataFrame:
        j = loc_rows.merge(metric_rows, on="subscriber", how="left")
        return j.groupby("pcod").agg(
            located=("subscriber", "nunique"), valued=("value", lambda v: int(v.notna().sum()))
        )

    full = counts(result(ctx, locations), result(ctx, metric))
    samp = counts(result(ctx, s_locations), result(ctx, s_metric))
    # the >15 rule and the located-without-value rule alone would publish counts 1–15 below the full ones
    old_rule = (samp.valued > 15) & ~(samp.located - samp.valued).between(1, 15)
    if (
        sampled_side == "locations"
    ):  # (a sample of the metric alone is held back by that rule already)
        assert any(old_rule & (full.located.reindex(samp.index) - samp.valued).between(1, 15))
    keep = (
        old_rule
        & leaves_out_none_or_many(full.located, samp.located)
        & leaves_out_none_or_many(full.valued, samp.valued)
    )
    expected = samp.valued[keep].sort_index()
    got = result(ctx, JoinedSpatialAggregate(s_metric, s_locations, method="count"))
    got = got.set_index("pcod").value.sort_index()
    assert len(expected) > 0 and got.to_dict() == expected.to_dict()
    for published in (
        result(ctx, SpatialAggregate(locations)).set_index("pcod").value,
        result(ctx, JoinedSpatialAggregate(metric, locations, method="count"))
        .set_index("pcod")
        .value,
    ):
        recovered = published.reindex(got.index).dropna() - got.reindex(published.index).dropna()
        assert not any(small(v) for v in recovered.dropna()), recovered


def _label(v: object) -> str:
    return (
        "none" if v is None or (not isinstance(v, (list, tuple)) and pd.isna(v)) else str(list(v))
    )


@pytest.mark.parametrize("sampled_side", ["locations", "labels"])
def test_labelled_spatial_aggregate_of_a_sample_leaves_out_none_or_many(
    ctx, fixture_db, sampled_side
):
    """Per location: every label's count and the location's total over the sample differ from the unsampled
    ones by 0 or more than 15, or the location is not published (a sample of the labels moves subscribers
    to the unlabelled row)."""
    locations = daily_location(DAY1, make_spatial_unit("admin1"))
    labels = CalendarActivity(
        DAY1, 1, hours=(0, 3)
    )  # one label (active 0–3 h); the unlabelled another

    def cells(loc_rows: pd.DataFrame, label_rows: pd.DataFrame) -> pd.Series:
        j = loc_rows.merge(label_rows, on="subscriber", how="left")
        j["label"] = j.value.map(_label)
        return j.groupby(["pcod", "label"]).size()

    full = cells(result(ctx, locations), result(ctx, labels))
    bitten, published = False, False
    for fraction in (0.9, 0.5):
        sampling = {"sampling_method": "random_ids", "seed": 0.3, "fraction": fraction}
        if sampled_side == "locations":
            s_locations, s_labels = RandomSample(locations, **sampling), labels
        else:
            s_locations, s_labels = locations, RandomSample(labels, **sampling)
        samp = cells(result(ctx, s_locations), result(ctx, s_labels))
        both = pd.concat({"full": full, "sampled": samp}, axis=1).fillna(0)
        totals = both.groupby(level="pcod").sum()
        ok_cells = ~(both.full - both.sampled).abs().between(1, 15)
        ok = (
            (samp.groupby(level="pcod").min() > 15)
            & ok_cells.groupby(level="pcod").all()
            & ~(totals.full - totals.sampled).abs().between(1, 15)
        )
        # the >15 rule alone would publish locations whose sample moves or leaves out 1–15
        bitten |= bool(((samp.groupby(level="pcod").min() > 15) & ~ok).any())
        expected = {(p, lab): int(v) for (p, lab), v in samp.items() if ok.get(p, False)}
        published |= len(expected) > 0
        got = result(ctx, LabelledSpatialAggregate(s_locations, s_labels))
        assert {(r.pcod, _label(r.value_label)): int(r.value) for r in got.itertuples()} == expected
    assert bitten and published


def test_labelled_flows_of_a_sample_leave_out_none_or_many(ctx, fixture_db):
    unit = make_spatial_unit("admin1")
    a, b = daily_location(DAY1, unit), daily_location(DAY2, unit)
    labels = CalendarActivity(DAY1, 1, hours=(0, 3))
    pair = ["pcod_from", "pcod_to"]

    def cells(a_rows: pd.DataFrame) -> pd.Series:
        p = a_rows.merge(result(ctx, b), on="subscriber", suffixes=("_from", "_to"))
        j = p.merge(result(ctx, labels), on="subscriber", how="left")
        j["label"] = j.value.map(_label)
        return j.groupby([*pair, "label"]).size()

    full = cells(result(ctx, a))
    bitten, published = False, False
    for fraction in (0.9, 0.5):
        sample = RandomSample(a, sampling_method="random_ids", seed=0.3, fraction=fraction)
        samp = cells(result(ctx, sample))
        both = pd.concat({"full": full, "sampled": samp}, axis=1).fillna(0)
        totals = both.groupby(level=pair).sum()
        big = samp.groupby(level=pair).min() > 15
        ok = (
            big
            & (~(both.full - both.sampled).abs().between(1, 15)).groupby(level=pair).all()
            & ~(totals.full - totals.sampled).abs().between(1, 15)
        )
        bitten |= bool((big & ~ok).any())
        expected = {k: int(v) for k, v in samp.items() if ok.get(k[:2], False)}
        published |= len(expected) > 0
        got = result(ctx, LabelledFlows(sample, b, labels))
        got_cells = {
            (r.pcod_from, r.pcod_to, _label(r.value_label)): int(r.value) for r in got.itertuples()
        }
        assert got_cells == expected
    assert bitten and published


def test_unmoving_counts_of_a_sample_leave_out_none_or_many(ctx, fixture_db):
    """A sample of the unique locations moves subscribers in (a second location left out) and out of the
    unmoving: either way a location is published only where its count moves by 0 or more than 15."""
    visits = UniqueLocations(DAY1, DAY2, make_spatial_unit("admin2"))

    def unmoving(rows: pd.DataFrame) -> pd.Series:
        n = rows.groupby("subscriber").size()
        return rows[rows.subscriber.map(n) == 1].groupby("pcod").size()

    full = unmoving(result(ctx, visits))
    bitten, published = False, False
    for fraction in (0.97, 0.5):
        sample = RandomSample(visits, sampling_method="bernoulli", seed=0.7, fraction=fraction)
        sampled = unmoving(result(ctx, sample))
        bitten |= any((sampled > 15) & (full.reindex(sampled.index) - sampled).abs().between(1, 15))
        got = result(ctx, UnmovingCounts(sample)).set_index("pcod").value
        assert got.to_dict() == expected_counts(full, sampled).to_dict()
        published |= len(got) > 0
    assert bitten and published


def test_kinds_without_a_per_key_check_refuse_a_sample():
    unit = make_spatial_unit("admin3")
    locations = daily_location(DAY1, unit)
    metric = RandomSample(
        EventCount(DAY1, DAY2), sampling_method="bernoulli", seed=0.1, fraction=0.9
    )
    with pytest.raises(
        InvalidSpecError, match="histogram_aggregate cannot be computed over a random"
    ):
        HistogramAggregation(metric, bins=5)
    with pytest.raises(
        InvalidSpecError, match="method distr cannot be computed over a random sample"
    ):
        JoinedSpatialAggregate(metric, locations, method="distr")
    sampled = RandomSample(locations, sampling_method="bernoulli", seed=0.1, fraction=0.9)
    visits = UniqueLocations(DAY1, DAY2, unit)
    with pytest.raises(
        InvalidSpecError, match="unique_visitor_counts cannot be computed over a random"
    ):
        UniqueVisitorCounts(
            ActiveAtReferenceLocationCounts(visits, sampled),
            UniqueSubscriberCounts(DAY1, DAY2, unit),
        )
    # unsampled, they are built
    HistogramAggregation(EventCount(DAY1, DAY2), bins=5)
    JoinedSpatialAggregate(EventCount(DAY1, DAY2), locations, method="distr")


def test_the_server_checks_a_sampled_joined_aggregate_and_refuses_a_sampled_histogram(zmq_client):
    sampling = {"sampling_method": "bernoulli", "seed": 0.1, "fraction": 0.9}
    metric = {
        "query_kind": "event_count",
        "start_date": DAY1,
        "end_date": DAY2,
        "sampling": sampling,
    }
    histogram = {"query_kind": "histogram_aggregate", "metric": metric, "bins": {"n_bins": 5}}
    reply = zmq_client.request("run_query", **histogram)
    assert reply["status"] == "error", reply
    assert "cannot be computed over a random sample" in reply["payload"]["exception"]
    daily = {"query_kind": "daily_location", "aggregation_unit": "admin3", "method": "last"}
    joined = {
        "query_kind": "joined_spatial_aggregate",
        "metric": {**metric, "sampling": None},
        "locations": {**daily, "date": DAY1, "sampling": sampling},
        "method": "count",
    }
    assert zmq_client.request("run_query", **joined)["status"] == "success"
