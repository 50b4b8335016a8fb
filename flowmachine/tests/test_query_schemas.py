"""API query specs → validated, redacted FlowMachine query objects (no database needed)."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from marshmallow import ValidationError

from flowmachine.core.errors import InvalidSpecError
from flowmachine.core.server.query_schemas.field_mixins import resolving_query_ids
from flowmachine.core.server.query_schemas.flowmachine_query import FlowmachineQuerySchema
from flowmachine.core.spatial_unit import make_spatial_unit
from flowmachine.features.location.flows import Flows, InFlow
from flowmachine.features.location.spatial_aggregate import SpatialAggregate
from flowmachine.features.nonspatial_aggregates.histogram_aggregation import HistogramAggregation
from flowmachine.features.subscriber.daily_location import daily_location
from flowmachine.features.subscriber.event_count import EventCount
from flowmachine.features.subscriber.radius_of_gyration import RadiusOfGyration

DAILY = {
    "query_kind": "daily_location",
    "date": "2016-01-01",
    "aggregation_unit": "admin3",
    "method": "last",
}


def load(spec, resolve_query_id=None):
    if resolve_query_id is None:
        return FlowmachineQuerySchema().load(spec)
    with resolving_query_ids(resolve_query_id):
        return FlowmachineQuerySchema().load(spec)


def test_spatial_aggregate_of_daily_location():
    exposed = load({"query_kind": "spatial_aggregate", "locations": DAILY})
    expected = SpatialAggregate(daily_location("2016-01-01", make_spatial_unit("admin3")))
    assert exposed.aggregation_unit == "admin3"
    assert exposed.query_id == expected.query_id
    assert exposed._flowmachine_query_obj.redact


def test_flows_and_inflows_of_unique_locations():
    ul = {
        "query_kind": "unique_locations",
        "start_date": "2016-01-01",
        "end_date": "2016-01-02",
        "aggregation_unit": "admin1",
    }
    flows = load(
        {
            "query_kind": "flows",
            "from_location": DAILY | {"aggregation_unit": "admin1"},
            "to_location": ul,
        }
    )
    assert isinstance(flows._flowmachine_query_obj, Flows)
    inflows = load(
        {"query_kind": "inflows", "from_location": ul, "to_location": ul, "join_type": "left"}
    )
    assert isinstance(inflows._flowmachine_query_obj, InFlow)
    assert inflows._flowmachine_query_obj.join_type == "left"


def test_histogram_of_sampled_metric():
    spec = {
        "query_kind": "histogram_aggregate",
        "metric": {
            "query_kind": "radius_of_gyration",
            "start_date": "2016-01-01",
            "end_date": "2016-01-08",
            "sampling": {"sampling_method": "bernoulli", "seed": 12, "fraction": 0.5},
        },
        "bins": {"n_bins": 10},
    }
    exposed = load(
        spec
    )  # the spec is valid, as in FlowKit; the query is refused (docs/privacy.md, Sampling)
    with pytest.raises(
        InvalidSpecError, match="histogram_aggregate cannot be computed over a random"
    ):
        _ = exposed._flowmachine_query_obj
    spec["metric"]["sampling"] = None
    q = load(spec)._flowmachine_query_obj
    assert isinstance(q, HistogramAggregation) and q.bins == 10
    assert q.metric == RadiusOfGyration("2016-01-01", "2016-01-08")


def test_every_top_level_kind_loads():
    window = {"start_date": "2016-01-01", "end_date": "2016-01-03", "aggregation_unit": "admin2"}
    metric = {
        "query_kind": "event_count",
        "start_date": "2016-01-01",
        "end_date": "2016-01-03",
        "direction": "out",
    }
    specs = [
        {
            "query_kind": "unique_subscriber_counts",
            **window,
            "hours": {"start_hour": 20, "end_hour": 4},
        },
        {
            "query_kind": "location_event_counts",
            **window,
            "interval": "hour",
            "event_types": ["calls", "sms"],
        },
        {"query_kind": "total_network_objects", **window, "total_by": "hour"},
        {"query_kind": "dfs_metric_total_amount", **window, "metric": "commission"},
        {
            "query_kind": "aggregate_network_objects",
            "total_network_objects": {"query_kind": "total_network_objects", **window},
            "statistic": "median",
            "aggregate_by": "month",
        },
        {
            "query_kind": "joined_spatial_aggregate",
            "metric": metric,
            "locations": DAILY,
            "method": "median",
        },
        {"query_kind": "geography", "aggregation_unit": "lon-lat"},
        {
            "query_kind": "spatial_aggregate",
            "locations": {
                "query_kind": "modal_location",
                "locations": [DAILY, DAILY | {"date": "2016-01-02"}],
            },
        },
        {
            "query_kind": "outflows",
            "from_location": DAILY,
            "to_location": DAILY | {"method": "most-common"},
        },
        {
            "query_kind": "histogram_aggregate",
            "metric": metric,
            "bins": {"bin_list": [0, 1, 5, 10]},
        },
    ]
    # the "visits" kinds (unique locations, trips), spec by spec in test_query_kinds_visits
    ul = {"query_kind": "unique_locations", **window}
    active = {
        "query_kind": "active_at_reference_location_counts",
        "unique_locations": ul,
        "reference_locations": DAILY | {"aggregation_unit": "admin2"},
    }
    specs += [
        active,
        {
            "query_kind": "unique_visitor_counts",
            "active_at_reference_location_counts": active,
            "unique_subscriber_counts": {"query_kind": "unique_subscriber_counts", **window},
        },
        {"query_kind": "unmoving_counts", "locations": ul},
        {
            "query_kind": "unmoving_at_reference_location_counts",
            "locations": ul,
            "reference_locations": active["reference_locations"],
        },
        {"query_kind": "location_introversion", **window},
        {"query_kind": "trips_od_matrix", **window},
        {"query_kind": "consecutive_trips_od_matrix", **window},
        {"query_kind": "dummy_query", "aggregation_unit": "admin2", "dummy_param": "x"},
        {"query_kind": "rolling_unique_subscriber_counts", **window, "window_days": 1},
    ]
    visits = {"query_kind": "location_visits", "locations": [DAILY, DAILY | {"date": "2016-01-02"}]}
    majority = {"query_kind": "majority_location", "subscriber_location_weights": visits}
    coalesced = {
        "query_kind": "coalesced_location",
        "preferred_location": majority,
        "fallback_location": majority | {"include_unlocatable": True},
        "subscriber_location_weights": visits,
        "weight_threshold": 1,
    }
    mobility = {
        "query_kind": "mobility_classification",
        "locations": [coalesced, coalesced],
        "stay_length_threshold": 2,
    }
    calendar = {"query_kind": "calendar_activity", "start_date": "2016-01-01", "total_periods": 2}
    specs += [
        {"query_kind": "labelled_spatial_aggregate", "locations": coalesced, "labels": mobility},
        {
            "query_kind": "labelled_flows",
            "from_location": coalesced,
            "to_location": coalesced,
            "labels": mobility,
        },
        calendar,
        calendar | {"query_kind": "localised_calendar_activity", "reference_location": majority},
    ]
    box = {"type": "Polygon", "coordinates": [[[-1, -1], [1, -1], [1, 1], [-1, 1], [-1, -1]]]}
    meaningful = {
        "labels": {"home": box},
        "tower_hour_of_day_scores": [0.5] * 24,
        "tower_day_of_week_scores": dict.fromkeys(
            ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"], 0.5
        ),
        "aggregation_unit": "admin2",
    }
    specs += [
        {"query_kind": "meaningful_locations_aggregate", **window, **meaningful, "label": "home"},
        {
            "query_kind": "meaningful_locations_between_label_od_matrix",
            **window,
            **meaningful,
            "label_a": "home",
            "label_b": "unknown",
        },
        {
            "query_kind": "meaningful_locations_between_dates_od_matrix",
            **{f"{k}_{p}": v for k, v in window.items() if k != "aggregation_unit" for p in "ab"},
            **meaningful,
            "label": "home",
        },
    ]
    kinds = set()
    for spec in specs:
        exposed = load(spec)
        assert len(exposed.query_id) == 32
        kinds.add(exposed.query_kind)
    assert kinds | {"flows", "inflows"} == set(FlowmachineQuerySchema.schemas_by_kind())


@pytest.mark.parametrize(
    "spec,field",
    [
        ({"query_kind": "nonsense"}, "query_kind"),
        ({"locations": DAILY}, "query_kind"),
        ({"query_kind": "spatial_aggregate", "locations": DAILY, "extra": 1}, "extra"),
        (
            {
                "query_kind": "spatial_aggregate",
                "locations": DAILY | {"aggregation_unit": "admin9"},
            },
            "locations",
        ),
        (
            {"query_kind": "spatial_aggregate", "locations": DAILY | {"date": "not a date"}},
            "locations",
        ),
        (
            {"query_kind": "spatial_aggregate", "aggregation_unit": "admin3", "locations": DAILY},
            "aggregation_unit",
        ),
        (
            {
                "query_kind": "unique_subscriber_counts",
                "start_date": "2016-01-02",
                "end_date": "2016-01-01",
                "aggregation_unit": "admin1",
            },
            "end_date",
        ),
        (
            {
                "query_kind": "unique_subscriber_counts",
                "start_date": "2016-01-01",
                "end_date": "2016-01-02",
                "aggregation_unit": "admin1",
                "hours": {"start_hour": 4, "end_hour": 4},
            },
            "hours",
        ),
        (
            {
                "query_kind": "geography",
                "aggregation_unit": "admin1",
                "mapping_table": "x; DROP TABLE y",
            },
            "mapping_table",
        ),
        (
            {
                "query_kind": "flows",
                "from_location": DAILY,
                "to_location": DAILY | {"aggregation_unit": "admin1"},
            },
            "to_location",
        ),
        (
            {
                "query_kind": "histogram_aggregate",
                "metric": {
                    "query_kind": "event_count",
                    "start_date": "2016-01-01",
                    "end_date": "2016-01-02",
                },
                "bins": {"n_bins": 3, "bin_list": [1, 2]},
            },
            "bins",
        ),
        (
            {
                "query_kind": "unique_subscriber_counts",
                "start_date": "2016-01-01",
                "end_date": "2016-01-02",
                "aggregation_unit": "admin1",
                "subscriber_subset": "abc",
            },
            "subscriber_subset",
        ),
    ],
)
def test_bad_specs_name_the_bad_field(spec, field):
    with pytest.raises(ValidationError) as info:
        load(spec)
    assert field in info.value.messages, info.value.messages


def test_sampling_needs_size_or_fraction():
    spec = {
        "query_kind": "histogram_aggregate",
        "bins": {"n_bins": 2},
        "metric": {
            "query_kind": "event_count",
            "start_date": "2016-01-01",
            "end_date": "2016-01-02",
            "sampling": {"sampling_method": "system", "seed": 1},
        },
    }
    with pytest.raises(ValidationError) as info:
        load(spec)
    assert "metric" in info.value.messages


def test_subscriber_subset_resolves_through_the_context():
    subset = EventCount("2016-01-01", "2016-01-02")
    spec = {
        "query_kind": "unique_subscriber_counts",
        "start_date": "2016-01-01",
        "end_date": "2016-01-02",
        "aggregation_unit": "admin1",
        "subscriber_subset": subset.query_id,
    }
    q = load(spec, resolve_query_id={subset.query_id: subset}.get)._flowmachine_query_obj
    assert q.subscriber_locations.events.subscriber_subset == subset


# joined_spatial_aggregate methods, as FlowKit 1.34 validates them --------------------------------------------

NUMERIC_METHODS = "count, sum, avg, max, min, median, stddev, variance, mode"
HANDSET = {
    "query_kind": "handset",
    "start_date": "2016-01-01",
    "end_date": "2016-01-02",
    "characteristic": "brand",
    "method": "last",
}
TOPUPS = {
    "query_kind": "topup_balance",
    "start_date": "2016-01-01",
    "end_date": "2016-01-02",
    "statistic": "avg",
}


def jsa(metric, method):
    return {
        "query_kind": "joined_spatial_aggregate",
        "metric": metric,
        "locations": DAILY,
        "method": method,
    }


@pytest.mark.parametrize(
    "metric,method,message",
    [
        (TOPUPS, "distr", f"Must be one of: {NUMERIC_METHODS}."),
        (
            {
                "query_kind": "radius_of_gyration",
                "start_date": "2016-01-01",
                "end_date": "2016-01-02",
            },
            "distr",
            f"Must be one of: {NUMERIC_METHODS}.",
        ),
        (HANDSET, "avg", "Must be one of: distr, mode."),
    ],
)
def test_joined_spatial_aggregate_method_must_suit_the_metric(metric, method, message):
    with pytest.raises(ValidationError) as info:
        load(jsa(metric, method))
    assert info.value.messages == {"method": [message]}


@pytest.mark.parametrize(
    "metric,method", [(TOPUPS, "count"), (HANDSET, "distr"), (HANDSET, "mode")]
)
def test_joined_spatial_aggregate_methods_flowkit_accepts(metric, method):
    assert load(jsa(metric, method))._flowmachine_query_obj.method == method


# bounds on size-like parameters (limits.py, the table in docs/flowmachine.md) -----------------------------------

WINDOW = {"start_date": "2016-01-01", "aggregation_unit": "admin1"}


def days_after(n: int) -> str:
    return (dt.date(2016, 1, 1) + dt.timedelta(days=n)).isoformat()


def histogram(bins, metric=None):
    metric = metric or {
        "query_kind": "event_count",
        "start_date": "2016-01-01",
        "end_date": "2016-01-02",
    }
    return {"query_kind": "histogram_aggregate", "metric": metric, "bins": bins}


def calendar(**periods):
    return {"query_kind": "calendar_activity", "start_date": "2016-01-01", **periods}


def sampled(size):
    metric = {
        "query_kind": "event_count",
        "start_date": "2016-01-01",
        "end_date": "2016-01-02",
        "sampling": {"sampling_method": "random_ids", "seed": 0.5, "size": size},
    }
    return histogram({"n_bins": 5}, metric)


def modal(n):
    return {"query_kind": "modal_location", "locations": [DAILY] * n}


DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def meaningful(**change):
    box = {"type": "Polygon", "coordinates": [[[0, 0], [0.1, 0], [0.1, 0.1]]]}
    return {
        "query_kind": "meaningful_locations_aggregate",
        "start_date": "2016-01-01",
        "end_date": "2016-01-02",
        "aggregation_unit": "admin1",
        "label": "unknown",
        "labels": {"a": box},
        "tower_hour_of_day_scores": [0.0] * 24,
        "tower_day_of_week_scores": dict.fromkeys(DAYS, 0.0),
        **change,
    }


def label_boxes(n, *, corners=3):
    """`n` disjoint labels, each a polygon of `corners` positions (its ring left open, as FlowKit's)."""
    return {
        f"l{i}": {
            "type": "Polygon",
            "coordinates": [
                [
                    [
                        i + 0.5 * math.cos(2 * math.pi * k / corners),
                        0.5 * math.sin(2 * math.pi * k / corners),
                    ]
                    for k in range(corners)
                ]
            ],
        }
        for i in range(n)
    }


def usc(end: str, **extra):
    return {"query_kind": "unique_subscriber_counts", **WINDOW, "end_date": end, **extra}


# (the largest spec accepted, the smallest refused, the field, the message naming the bound)
BOUNDS = {
    "n_bins": (
        histogram({"n_bins": 10_000}),
        histogram({"n_bins": 10_001}),
        "bins",
        "at most 10000",
    ),
    "bin_list": (
        histogram({"bin_list": list(range(10_001))}),
        histogram({"bin_list": list(range(10_002))}),
        "bins",
        "At most 10001 items",
    ),
    "sample size": (sampled(10**9), sampled(10**9 + 1), "metric", "at most 1000000000"),
    "date span": (usc(days_after(3660)), usc(days_after(3661)), "end_date", "at most 3660 days"),
    "dates": (
        usc("2199-12-31", start_date="2199-12-30"),
        usc("2200-01-01", start_date="2199-12-31"),
        "end_date",
        "before 2200-01-01",
    ),
    "total_periods": (
        calendar(total_periods=10_000, period_unit="minutes"),
        calendar(total_periods=10_001, period_unit="minutes"),
        "total_periods",
        "at most 10000",
    ),
    "period span": (
        calendar(total_periods=10, period_length=366),
        calendar(total_periods=10, period_length=367),
        "period_length",
        "at most 3660 days",
    ),
    "locations": (
        {"query_kind": "spatial_aggregate", "locations": modal(1000)},
        {"query_kind": "spatial_aggregate", "locations": modal(1001)},
        "locations",
        "At most 1000 items",
    ),
    "event_types": (
        usc("2016-01-02", event_types=["calls", "sms"] * 5),
        usc("2016-01-02", event_types=["calls", "sms"] * 5 + ["mds"]),
        "event_types",
        "At most 10 items",
    ),
    "radius": (
        meaningful(tower_cluster_radius=20_000),
        meaningful(tower_cluster_radius=20_000.5),
        "tower_cluster_radius",
        "at most 20000",
    ),
    "labels": (
        meaningful(labels=label_boxes(32)),
        meaningful(labels=label_boxes(33)),
        "labels",
        "at most 32 labels",
    ),
    "label positions": (
        meaningful(labels=label_boxes(4, corners=125)),
        meaningful(labels=label_boxes(4, corners=126)),
        "labels",
        "at most 500 positions",
    ),
    "queries in a spec": (
        {"query_kind": "flows", "from_location": modal(1000), "to_location": modal(997)},
        {"query_kind": "flows", "from_location": modal(1000), "to_location": modal(998)},
        "_schema",
        "at most 2000 queries",
    ),
}


@pytest.mark.parametrize("name", BOUNDS)
def test_size_like_parameters_are_bounded(name):
    largest, refused, field, message = BOUNDS[name]
    load(largest)
    with pytest.raises(ValidationError) as info:
        load(refused)
    assert field in info.value.messages and message in str(info.value.messages), info.value.messages


def test_deep_specs_are_refused_before_loading():
    deep: list = []
    for _ in range(100):
        deep = [deep]
    with pytest.raises(ValidationError) as info:
        load(histogram({"bin_list": deep}))
    assert "at most 64 levels" in str(info.value.messages["_schema"])
