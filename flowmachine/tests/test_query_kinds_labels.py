"""The "labels" kinds (location_visits → majority_location → coalesced_location → mobility_classification,
labelled_spatial_aggregate, labelled_flows, calendar_activity, localised_calendar_activity) against
independent pandas computations on the fixture FlowDB (see fixture_data, reference_labels)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import reference as ref
import reference_labels as rl
from marshmallow import ValidationError
from test_query_kinds import result, same

from flowmachine.core.random_sample import RandomSample
from flowmachine.core.server.query_schemas.flowmachine_query import FlowmachineQuerySchema
from flowmachine.core.spatial_unit import make_spatial_unit
from flowmachine.features.location.labelled_spatial_aggregate import (
    LabelledFlows,
    LabelledSpatialAggregate,
)
from flowmachine.features.location.spatial_aggregate import SpatialAggregate
from flowmachine.features.nonspatial_aggregates.per_value_aggregate import PerValueAggregate
from flowmachine.features.subscriber.calendar_activity import CalendarActivity
from flowmachine.features.subscriber.coalesced_location import CoalescedLocation
from flowmachine.features.subscriber.daily_location import daily_location
from flowmachine.features.subscriber.location_visits import LocationVisits
from flowmachine.features.subscriber.majority_location import MajorityLocation
from flowmachine.features.subscriber.mobility_classification import (
    LABELS,
    MobilityClassification,
)

HAND_DAYS = ["2016-01-01", "2016-01-02", "2016-01-03"]
GEN_DAYS = ["2016-03-01", "2016-03-02", "2016-03-03", "2016-03-04", "2016-03-05"]


def _next(day: str) -> str:
    return str((pd.Timestamp(day) + pd.Timedelta(days=1)).date())


@pytest.fixture
def fx(fixture_db, ctx):
    return fixture_db


class Chain:
    """The same chain built as FlowMachine queries and as pandas frames, for one unit."""

    def __init__(self, fx, unit: str):
        self.fx, self.unit_name = fx, unit
        self.unit = make_spatial_unit(unit)
        self.L = ref.UNIT_COLUMNS[unit]

    def daily(self, day):
        return daily_location(day, self.unit), ref.last_location(
            self.fx, self.unit_name, day, _next(day)
        )

    def visits(self, days):
        qs, frames = zip(*(self.daily(d) for d in days), strict=True)
        return LocationVisits(list(qs)), rl.location_visits(list(frames), self.L)

    def majority(self, days, **kw):
        q, frame = self.visits(days)
        return MajorityLocation(q, **kw), rl.majority_location(frame, self.L, **kw)

    def coalesced(self, preferred_days, fallback_days, threshold, **preferred_kw):
        pq, pf = self.majority(preferred_days, **preferred_kw)
        fq, ff = self.majority(fallback_days)
        wq, wf = self.visits(fallback_days)
        q = CoalescedLocation(pq, fq, subscriber_location_weights=wq, weight_threshold=threshold)
        return q, rl.coalesced_location(pf, ff, wf, threshold, self.L)


# the chain --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("unit", ["admin3", "cell", "lon-lat"])
def test_location_visits(ctx, fx, unit):
    q, expected = Chain(fx, unit).visits(HAND_DAYS)
    same(result(ctx, q), expected)


@pytest.mark.parametrize(
    "kw",
    [{}, {"minimum_total_weight": 4.0}, {"include_unlocatable": True}],
)
@pytest.mark.parametrize("unit", ["admin3", "cell"])
def test_majority_location(ctx, fx, unit, kw):
    q, expected = Chain(fx, unit).majority(HAND_DAYS, **kw)
    same(result(ctx, q), expected)


def test_majority_location_tie_has_no_majority(ctx, fx):
    # sub0908: last location C05 on day one, C04 on day two: one visit each, neither above half
    chain = Chain(fx, "cell")
    df = result(ctx, chain.majority(HAND_DAYS[:2])[0]).set_index("subscriber")
    assert "sub0908" not in df.index
    unlocatable = result(ctx, chain.majority(HAND_DAYS[:2], include_unlocatable=True)[0])
    row = unlocatable.set_index("subscriber").loc["sub0908"]
    assert pd.isna(row.location_id)


@pytest.mark.parametrize("unit", ["admin3", "cell", "lon-lat"])
@pytest.mark.parametrize("threshold", [1, 2])
def test_coalesced_location(ctx, fx, unit, threshold):
    q, expected = Chain(fx, unit).coalesced(HAND_DAYS[:2], HAND_DAYS, threshold)
    assert len(expected) > 0
    same(result(ctx, q), expected)


def test_coalesced_location_keeps_the_unlocated_and_falls_back(ctx, fx):
    chain = Chain(fx, "cell")
    q, expected = chain.coalesced(HAND_DAYS[:2], HAND_DAYS, 2, include_unlocatable=True)
    df = result(ctx, q)
    same(df, expected)
    # sub0908 has no preferred (tie) location; over three days it has a two-visit majority or none
    assert "sub0908" in set(df.subscriber)
    assert df.location_id.isna().any() and df.location_id.notna().any()


@pytest.mark.parametrize("unit", ["admin3", "cell"])
@pytest.mark.parametrize("stay", [1, 2, 3])
def test_mobility_classification(ctx, fx, unit, stay):
    # (preferred days, fallback days, weight threshold); preferred with ties kept as unlocatable. A
    # threshold of 2 over one day of visits never falls back, so tied subscribers stay unlocated.
    periods = [
        (HAND_DAYS[:2], HAND_DAYS[:1], 2),
        (HAND_DAYS[1:2], HAND_DAYS[:2], 1),
        (HAND_DAYS[1:], HAND_DAYS[2:], 2),
    ]
    chain = Chain(fx, unit)
    built = [chain.coalesced(p, f, t, include_unlocatable=True) for p, f, t in periods]
    q = MobilityClassification([b[0] for b in built], stay)
    expected = rl.mobility_classification([b[1] for b in built], chain.L, stay)
    same(result(ctx, q), expected)
    if stay == 2:
        assert {"unlocated", "not_always_locatable", "stable"} <= set(expected.value)


@pytest.mark.parametrize("unit,stay", [("admin2", 3), ("lon-lat", 2)])
def test_mobility_classification_of_generated_days(ctx, fx, unit, stay):
    _, labels, label_frame, _ = _gen_chain(fx, unit, stay)
    same(result(ctx, labels), label_frame)
    if unit == "admin2":
        assert {"stable", "mobile", "irregular"} <= set(label_frame.value)
        assert set(label_frame.value) <= set(LABELS)


# labelled aggregates ----------------------------------------------------------------------------------------


def _gen_chain(fx, unit, stay=2):
    """Labels from three periods of the generated days; the last period's locations."""
    chain = Chain(fx, unit)
    periods = [
        (GEN_DAYS[:2], GEN_DAYS, 1),
        (GEN_DAYS[2:], GEN_DAYS, 1),
        (GEN_DAYS[3:], GEN_DAYS[2:], 1),
    ]
    built = [chain.coalesced(*p) for p in periods]
    labels = MobilityClassification([b[0] for b in built], stay)
    label_frame = rl.mobility_classification([b[1] for b in built], chain.L, stay)
    return chain, labels, label_frame, built


@pytest.mark.parametrize("redact", [False, True])
@pytest.mark.parametrize("unit,stay", [("admin1", 3), ("admin2", 2), ("admin3", 3)])
def test_labelled_spatial_aggregate(ctx, fx, unit, stay, redact):
    chain, labels, label_frame, built = _gen_chain(fx, unit, stay)
    locations, location_frame = built[-1]
    q = LabelledSpatialAggregate(locations, labels, redact=redact)
    expected = rl.labelled_counts(location_frame, label_frame, chain.L, redact)
    same(result(ctx, q), expected)


@pytest.mark.parametrize("redact", [False, True])
@pytest.mark.parametrize("how", ["inner", "full outer", "left"])
def test_labelled_flows(ctx, fx, how, redact):
    chain, labels, label_frame, built = _gen_chain(fx, "admin1")
    (a, af), (b, bf) = built[0], built[-1]
    q = LabelledFlows(a, b, labels, join_type=how, redact=redact)
    pairs = rl.flow_pairs(
        af, bf, chain.L, {"inner": "inner", "full outer": "outer", "left": "left"}[how]
    )
    expected = rl.labelled_counts(pairs, label_frame, q.column_names[:-2], redact)
    same(result(ctx, q), expected)
    raw = rl.labelled_counts(pairs, label_frame, q.column_names[:-2], False)
    if redact:  # some pairs published, some not
        assert 0 < len(expected) < len(raw)


def test_labelled_flows_of_unlocated_subscribers(ctx, fx):
    chain, labels, label_frame, _ = _gen_chain(fx, "admin2")
    a, af = chain.coalesced(GEN_DAYS[:2], GEN_DAYS[:1], 2, include_unlocatable=True)
    b, bf = chain.coalesced(GEN_DAYS[3:], GEN_DAYS[2:], 2)
    q = LabelledFlows(a, b, labels, join_type="full outer", redact=False)
    pairs = rl.flow_pairs(af, bf, chain.L, "outer")
    df = result(ctx, q)
    same(df, rl.labelled_counts(pairs, label_frame, q.column_names[:-2], False))
    assert df.pcod_from.isna().any() and df.value_label.isna().any()


# calendar activity ------------------------------------------------------------------------------------------


def _patterns(df: pd.DataFrame, column: str) -> pd.DataFrame:
    """Array-of-timestamp columns as tuples of ISO UTC strings (comparable with the reference)."""

    def iso(values):
        if values is None or (not isinstance(values, (list, tuple)) and pd.isna(values)):
            return None
        return tuple(
            (
                pd.Timestamp(v).tz_convert("UTC")
                if pd.Timestamp(v).tzinfo
                else pd.Timestamp(v).tz_localize("UTC")
            ).isoformat()
            for v in values
        )

    return df.assign(**{column: df[column].map(iso)})


@pytest.mark.parametrize(
    "start,total,length,unit,filters",
    [
        ("2016-01-01", 3, 1, "days", {}),
        ("2016-01-01 06:00", 12, 6, "hours", {"tables": ("calls",)}),
        ("2016-01-01", 9, 90, "minutes", {"hours": (22, 2)}),
    ],
)
def test_calendar_activity_per_subscriber(ctx, fx, start, total, length, unit, filters):
    kw = dict(filters)
    if "tables" in kw:
        kw["tables"] = list(kw["tables"])
    q = CalendarActivity(start, total, period_length=length, period_unit=unit, **kw)
    expected = rl.calendar_activity(fx, start, total, length, unit, **filters)
    assert len(expected) > 0
    same(_patterns(result(ctx, q), "value"), expected)


@pytest.mark.parametrize("redact", [False, True])
def test_calendar_activity_aggregate(ctx, fx, redact):
    metric = CalendarActivity("2016-03-01", 5)
    q = PerValueAggregate(metric, redact=redact)
    expected = rl.per_value_aggregate(rl.calendar_activity(fx, "2016-03-01", 5, 1, "days"), redact)
    same(_patterns(result(ctx, q), "grp"), expected)
    if redact:
        raw = rl.per_value_aggregate(rl.calendar_activity(fx, "2016-03-01", 5, 1, "days"), False)
        assert 0 < len(expected) < len(raw)


@pytest.mark.parametrize("redact", [False, True])
@pytest.mark.parametrize("unit", ["admin1", "admin2"])
def test_localised_calendar_activity(ctx, fx, unit, redact):
    chain = Chain(fx, unit)
    locations, location_frame = chain.daily("2016-03-05")
    metric = CalendarActivity("2016-03-05", 2, period_length=12, period_unit="hours")
    q = LabelledSpatialAggregate(locations, metric, redact=redact)
    labels = rl.calendar_activity(fx, "2016-03-05", 2, 12, "hours")
    expected = rl.labelled_counts(location_frame, labels, chain.L, redact)
    df = _patterns(result(ctx, q), "value_label")
    same(df, expected)
    if redact and unit == "admin1":
        # Z.1's three patterns each rest on more than 15 subscribers; Z.2 has a pattern of fewer
        assert set(df.pcod) == {"Z.1"} and len(df) == 3
    if redact and unit == "admin2":
        # every quadrant has a pattern of 15 or fewer subscribers (Z.1.1: exactly 15)
        raw = rl.labelled_counts(location_frame, labels, chain.L, False)
        assert raw.groupby("pcod").value.min().loc["Z.1.1"] == 15
        assert len(df) == 0


# the API -----------------------------------------------------------------------------------------------------

DAILY = {"query_kind": "daily_location", "method": "last", "aggregation_unit": "admin2"}


def _visits(days, unit="admin2"):
    return {
        "query_kind": "location_visits",
        "locations": [DAILY | {"date": d, "aggregation_unit": unit} for d in days],
    }


def _majority(days, unit="admin2", **kw):
    return {
        "query_kind": "majority_location",
        "subscriber_location_weights": _visits(days, unit),
        **kw,
    }


def _coalesced(unit="admin2", **kw):
    return {
        "query_kind": "coalesced_location",
        "preferred_location": _majority(HAND_DAYS[:2], unit, include_unlocatable=True),
        "fallback_location": _majority(HAND_DAYS, unit),
        "subscriber_location_weights": _visits(HAND_DAYS, unit),
        "weight_threshold": 2,
        **kw,
    }


MOBILITY = {
    "query_kind": "mobility_classification",
    "locations": [_coalesced(), _coalesced()],
    "stay_length_threshold": 2,
}
CALENDAR = {"query_kind": "calendar_activity", "start_date": "2016-01-01", "total_periods": 3}


def test_api_specs_build_the_chain():
    schema = FlowmachineQuerySchema()
    exposed = schema.load(
        {"query_kind": "labelled_spatial_aggregate", "locations": _coalesced(), "labels": MOBILITY}
    )
    assert exposed.aggregation_unit == "admin2"
    q = exposed._flowmachine_query_obj
    assert isinstance(q, LabelledSpatialAggregate) and q.redact
    assert isinstance(q.locations, CoalescedLocation)
    assert isinstance(q.locations.preferred_location, MajorityLocation)
    assert q.locations.preferred_location.include_unlocatable
    assert isinstance(q.labels, MobilityClassification) and q.labels.stay_length_threshold == 2
    flows = schema.load(
        {
            "query_kind": "labelled_flows",
            "from_location": _coalesced(),
            "to_location": _coalesced(),
            "labels": MOBILITY,
            "join_type": "full outer",
        }
    )._flowmachine_query_obj
    assert isinstance(flows, LabelledFlows) and flows.join_type == "full outer" and flows.redact
    # majority and coalesced locations are reference locations
    sa = schema.load({"query_kind": "spatial_aggregate", "locations": _majority(HAND_DAYS)})
    assert isinstance(sa._flowmachine_query_obj, SpatialAggregate)
    sa = schema.load({"query_kind": "spatial_aggregate", "locations": _coalesced()})
    assert isinstance(sa._flowmachine_query_obj.locations, CoalescedLocation)


def test_api_calendar_activity():
    schema = FlowmachineQuerySchema()
    q = schema.load(CALENDAR | {"hours": {"start_hour": 8, "end_hour": 20}})._flowmachine_query_obj
    assert isinstance(q, PerValueAggregate) and q.redact
    assert q.metric == CalendarActivity("2016-01-01", 3, hours=(8, 20))
    sampled = schema.load(
        CALENDAR | {"sampling": {"sampling_method": "random_ids", "seed": 0.5, "size": 3}}
    )._flowmachine_query_obj
    assert isinstance(sampled, RandomSample) and isinstance(sampled.query, PerValueAggregate)
    localised = schema.load(
        CALENDAR
        | {
            "query_kind": "localised_calendar_activity",
            "reference_location": DAILY | {"date": "2016-01-01"},
            "period_unit": "hours",
            "period_length": 12,
        }
    )
    assert localised.aggregation_unit == "admin2"
    lq = localised._flowmachine_query_obj
    assert isinstance(lq, LabelledSpatialAggregate) and lq.redact
    assert lq.labels == CalendarActivity("2016-01-01", 3, period_length=12, period_unit="hours")


@pytest.mark.parametrize(
    "spec,field",
    [
        (CALENDAR | {"query_kind": "localised_calendar_activity"}, "reference_location"),
        (CALENDAR | {"total_periods": 0}, "total_periods"),
        (CALENDAR | {"period_unit": "weeks"}, "period_unit"),
        (CALENDAR | {"aggregation_unit": "admin1"}, "aggregation_unit"),
        (
            {
                "query_kind": "labelled_spatial_aggregate",
                "locations": _majority(HAND_DAYS),
                "labels": MOBILITY,
            },
            "locations",
        ),
        (
            {
                "query_kind": "labelled_spatial_aggregate",
                "locations": _coalesced(),
                "labels": MOBILITY,
                "aggregation_unit": "admin2",
            },
            "aggregation_unit",
        ),
        (
            {
                "query_kind": "labelled_flows",
                "from_location": _coalesced(),
                "to_location": _coalesced("admin1"),
                "labels": MOBILITY,
            },
            "to_location",
        ),
        (
            {
                "query_kind": "spatial_aggregate",
                "locations": _coalesced(fallback_location=_majority(HAND_DAYS, "admin1")),
            },
            "locations",
        ),
        (
            {
                "query_kind": "spatial_aggregate",
                "locations": _majority(HAND_DAYS)
                | {
                    "subscriber_location_weights": {
                        "query_kind": "location_visits",
                        "locations": [
                            DAILY | {"date": "2016-01-01"},
                            DAILY | {"date": "2016-01-02", "aggregation_unit": "admin1"},
                        ],
                    }
                },
            },
            "locations",
        ),
    ],
)
def test_api_bad_specs(spec, field):
    with pytest.raises(ValidationError) as info:
        FlowmachineQuerySchema().load(spec)
    assert field in info.value.messages, info.value.messages


# redaction property ------------------------------------------------------------------------------------------


def _random_case(fx, rng):
    """A random labelled or calendar query and, with pandas, the subscribers behind each possible row."""
    kind = ["labelled_spatial_aggregate", "labelled_flows", "calendar", "localised"][
        int(rng.integers(0, 4))
    ]
    unit = ["admin1", "admin2", "admin3", "lon-lat"][int(rng.integers(0, 4))]
    chain = Chain(fx, unit)
    if kind in ("calendar", "localised"):
        length, period_unit, total = [(1, "days", 2), (12, "hours", 3), (360, "minutes", 4)][
            int(rng.integers(0, 3))
        ]
        start = GEN_DAYS[int(rng.integers(0, 3))]
        hours = [None, (6, 22), (20, 8)][int(rng.integers(0, 3))]
        metric = CalendarActivity(
            start, total, period_length=length, period_unit=period_unit, hours=hours
        )
        frame = rl.calendar_activity(
            fx, start, total, length, period_unit, **({"hours": hours} if hours else {})
        )
        if kind == "calendar":
            return PerValueAggregate(metric), "grp", frame.rename(columns={"value": "grp"}), []
        locations, location_frame = chain.daily(GEN_DAYS[int(rng.integers(0, 5))])
        rows = location_frame.merge(frame.rename(columns={"value": "value_label"}), how="left")
        return LabelledSpatialAggregate(locations, metric), "value_label", rows, chain.L
    stay = int(rng.integers(1, 4))
    _, labels, label_frame, built = _gen_chain(fx, unit, stay)
    labels_by_sub = label_frame.rename(columns={"value": "value_label"})
    if kind == "labelled_spatial_aggregate":
        (locations, location_frame) = built[int(rng.integers(0, 3))]
        rows = location_frame.merge(labels_by_sub, how="left")
        return LabelledSpatialAggregate(locations, labels), "value_label", rows, chain.L
    how = ["inner", "full outer", "left", "right"][int(rng.integers(0, 4))]
    i, j = (int(x) for x in rng.choice(3, size=2, replace=False))
    (a, af), (b, bf) = built[i], built[j]
    q = LabelledFlows(a, b, labels, join_type=how)
    pandas_how = {"inner": "inner", "full outer": "outer", "left": "left", "right": "right"}[how]
    rows = rl.flow_pairs(af, bf, chain.L, pandas_how).merge(labels_by_sub, how="left")
    return q, "value_label", rows, q.column_names[:-2]


def _hashable(v):
    if isinstance(v, (list, tuple)):
        return tuple(
            (
                pd.Timestamp(x).tz_convert("UTC")
                if pd.Timestamp(x).tzinfo
                else pd.Timestamp(x).tz_localize("UTC")
            ).isoformat()
            for x in v
        )
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    return float(v) if isinstance(v, (float, np.floating)) else v


@pytest.mark.parametrize("seed", range(12))
def test_no_published_label_row_rests_on_fifteen_or_fewer(ctx, fx, seed):
    q, label, rows, keys = _random_case(fx, np.random.default_rng(seed))
    df = result(ctx, q)
    support: dict[tuple, set] = {}
    for r in rows.to_dict("records"):
        k = tuple(_hashable(r[c]) for c in [*keys, label])
        support.setdefault(k, set()).add(r["subscriber"])
    published = [tuple(_hashable(r[c]) for c in [*keys, label]) for r in df.to_dict("records")]
    for k in published:
        assert len(support.get(k, ())) > 15, (q, k, len(support.get(k, ())))

    # exactly the keys all of whose label rows rest on more than 15 are published, with all their rows
    # (calendar_activity has no location: each pattern is its own key)
    def key(k):
        return k[:-1] if keys else k

    by_key: dict[tuple, list[int]] = {}
    for k, subs in support.items():
        by_key.setdefault(key(k), []).append(len(subs))
    expected = {k for k in support if min(by_key[key(k)]) > 15}
    assert set(published) == expected and len(published) == len(expected)
