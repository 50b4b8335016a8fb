"""Every query kind against an independent pandas computation on the fixture FlowDB (see fixture_data)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import reference as ref

from flowmachine.core.cache import compute
from flowmachine.core.context import Context
from flowmachine.core.query import Query
from flowmachine.core.spatial_unit import make_spatial_unit
from flowmachine.features.location.flows import Flows, InFlow, OutFlow
from flowmachine.features.location.geography import Geography
from flowmachine.features.location.joined_spatial_aggregate import JoinedSpatialAggregate
from flowmachine.features.location.location_event_counts import LocationEventCounts
from flowmachine.features.location.spatial_aggregate import SpatialAggregate
from flowmachine.features.location.total_network_objects import (
    AggregateNetworkObjects,
    TotalNetworkObjects,
)
from flowmachine.features.location.unique_subscriber_counts import UniqueSubscriberCounts
from flowmachine.features.nonspatial_aggregates.histogram_aggregation import HistogramAggregation
from flowmachine.features.subscriber.daily_location import daily_location
from flowmachine.features.subscriber.event_count import EventCount
from flowmachine.features.subscriber.modal_location import ModalLocation
from flowmachine.features.subscriber.most_frequent_location import MostFrequentLocation
from flowmachine.features.subscriber.radius_of_gyration import RadiusOfGyration
from flowmachine.features.subscriber.subscriber_degree import SubscriberDegree
from flowmachine.features.subscriber.unique_locations import UniqueLocations
from flowmachine.features.subscriber.visited_most_days import VisitedMostDays

HAND = ("2016-01-01", "2016-01-04")
GEN = ("2016-03-01", "2016-03-06")
UNITS = [
    "admin0",
    "admin1",
    "admin2",
    "admin3",
    "lon-lat",
    "versioned-cell",
    "versioned-site",
    "cell",
]


@pytest.fixture
def fx(fixture_db, ctx):
    return fixture_db


def result(ctx: Context, q: Query) -> pd.DataFrame:
    """Computed through the cache (dependencies stored first), read back."""
    compute(ctx, q)
    return q.get_dataframe(ctx)


def same(actual: pd.DataFrame, expected: pd.DataFrame, *, rtol: float = 1e-9) -> None:
    assert list(actual.columns) == list(expected.columns), (
        list(actual.columns),
        list(expected.columns),
    )
    cols = list(actual.columns)
    a = actual.copy()
    e = expected.copy()
    for c in cols:
        if a[c].dtype == object and any(
            isinstance(v, (int, float)) or hasattr(v, "as_integer_ratio") for v in a[c].dropna()[:1]
        ):
            a[c] = a[c].astype(float)
        if pd.api.types.is_numeric_dtype(e[c]) or pd.api.types.is_numeric_dtype(a[c]):
            a[c] = pd.to_numeric(a[c]).astype(float)
            e[c] = pd.to_numeric(e[c]).astype(float)
        elif pd.api.types.is_datetime64_any_dtype(e[c]) or pd.api.types.is_datetime64_any_dtype(
            a[c]
        ):
            a[c] = pd.to_datetime(a[c], utc=True)
            e[c] = pd.to_datetime(e[c], utc=True)
        else:
            a[c] = (
                a[c]
                .astype(object)
                .where(a[c].notna(), None)
                .map(lambda v: v if v is None else str(v))
            )
            e[c] = (
                e[c]
                .astype(object)
                .where(e[c].notna(), None)
                .map(lambda v: v if v is None else str(v))
            )
    key = cols
    a = a.sort_values(key, na_position="first").reset_index(drop=True)
    e = e.sort_values(key, na_position="first").reset_index(drop=True)
    assert len(a) == len(e), f"{len(a)} rows, expected {len(e)}\n{a}\n{e}"
    pd.testing.assert_frame_equal(a, e, check_dtype=False, rtol=rtol, atol=1e-9)


# reference locations ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("unit", UNITS)
def test_last_location_every_unit(ctx, fx, unit):
    q = daily_location("2016-01-01", make_spatial_unit(unit), method="last")
    same(result(ctx, q), ref.last_location(fx, unit, "2016-01-01", "2016-01-02"))


def test_last_location_tie_goes_to_greater_cell(ctx, fx):
    df = result(ctx, daily_location("2016-01-01", make_spatial_unit("cell")))
    assert df.set_index("subscriber").loc["sub0900", "location_id"] == "C05"


@pytest.mark.parametrize("unit", ["admin3", "lon-lat", "versioned-site"])
def test_most_common_daily_location(ctx, fx, unit):
    for day in ["2016-01-01", "2016-01-02", "2016-01-03"]:
        stop = str((pd.Timestamp(day) + pd.Timedelta(days=1)).date())
        q = daily_location(day, make_spatial_unit(unit), method="most-common")
        same(result(ctx, q), ref.most_frequent_location(fx, unit, day, stop))


def test_most_frequent_tie_goes_to_latest(ctx, fx):
    q = MostFrequentLocation(*HAND[:1], "2016-01-02", make_spatial_unit("cell"))
    assert result(ctx, q).set_index("subscriber").loc["sub0903", "location_id"] == "C03"


@pytest.mark.parametrize("unit", ["admin2", "cell", "versioned-cell"])
def test_most_frequent_location_window_hours_tables(ctx, fx, unit):
    q = MostFrequentLocation(*HAND, make_spatial_unit(unit), hours=(20, 4), tables=["calls"])
    same(
        result(ctx, q),
        ref.most_frequent_location(fx, unit, *HAND, hours=(20, 4), tables=("calls",)),
    )


@pytest.mark.parametrize("unit", ["admin3", "cell"])
def test_visited_most_days(ctx, fx, unit):
    q = VisitedMostDays(*HAND, make_spatial_unit(unit))
    same(result(ctx, q), ref.visited_most_days(fx, unit, *HAND))


def test_visited_most_days_is_deterministic_on_ties(ctx, fx):
    # sub0908: C04 and C05 on two days each with equal counts; C04's latest event (day 2 10:00) is later
    df = result(ctx, VisitedMostDays(*HAND, make_spatial_unit("cell")))
    assert df.set_index("subscriber").loc["sub0908", "location_id"] == "C04"


@pytest.mark.parametrize("unit", ["admin1", "lon-lat", "cell"])
def test_unique_locations(ctx, fx, unit):
    same(
        result(ctx, UniqueLocations(*GEN, make_spatial_unit(unit))),
        ref.unique_locations(fx, unit, *GEN),
    )


def test_modal_location(ctx, fx):
    unit = make_spatial_unit("admin3")
    days = ["2016-01-01", "2016-01-02", "2016-01-03"]
    q = ModalLocation([daily_location(d, unit) for d in days])
    expected = ref.modal_location(
        [
            (
                d,
                ref.last_location(
                    fx, "admin3", d, str((pd.Timestamp(d) + pd.Timedelta(days=1)).date())
                ),
            )
            for d in days
        ],
        "admin3",
    )
    same(result(ctx, q), expected)


def test_cell_versions_and_service_dates(ctx, fx):
    """C08 moves between days; C09 serves only from day three; unknown and empty cells are not located."""
    unit = make_spatial_unit("admin3")
    by_day = {
        d: result(ctx, daily_location(d, unit)).set_index("subscriber")
        for d in ["2016-01-01", "2016-01-02", "2016-01-03"]
    }
    assert by_day["2016-01-01"].loc["sub0906", "pcod"] == "Z.1.2.03"  # C08 v0 at (10.5, 13.5)
    assert by_day["2016-01-02"].loc["sub0906", "pcod"] == "Z.2.3.30"  # C08 v1 at (13.5, 10.5)
    # sub0907 was at C09 each day; C09 serves from day three only
    assert by_day["2016-01-03"].loc["sub0907", "pcod"] == "Z.2.3.21"
    cells = result(ctx, daily_location("2016-01-01", make_spatial_unit("cell"))).set_index(
        "subscriber"
    )
    assert cells.loc["sub0903", "location_id"] == "UNKNOWN"  # the cell unit takes raw location ids


# metrics ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "filters",
    [{}, {"direction": "out"}, {"direction": "in", "hours": (22, 2)}, {"tables": ("sms",)}],
)
def test_event_count(ctx, fx, filters):
    kw = dict(filters)
    if "tables" in kw:
        kw["tables"] = list(kw["tables"])
    same(result(ctx, EventCount(*HAND, **kw)), ref.event_count(fx, *HAND, **filters))


@pytest.mark.parametrize("filters", [{}, {"direction": "out"}])
def test_subscriber_degree(ctx, fx, filters):
    same(
        result(ctx, SubscriberDegree(*HAND, **filters)), ref.subscriber_degree(fx, *HAND, **filters)
    )


def test_radius_of_gyration(ctx, fx):
    same(result(ctx, RadiusOfGyration(*GEN)), ref.radius_of_gyration(fx, *GEN), rtol=1e-7)


def test_subscriber_subset(ctx, fx):
    subset = EventCount(*HAND, tables=["sms"])
    members = set(result(ctx, subset).subscriber)
    q = EventCount(*HAND, subscriber_subset=subset)
    same(result(ctx, q), ref.event_count(fx, *HAND, subset=members))


# aggregates ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("redact", [False, True])
@pytest.mark.parametrize("unit", ["admin2", "admin3", "lon-lat"])
def test_spatial_aggregate(ctx, fx, unit, redact):
    locations = daily_location("2016-03-02", make_spatial_unit(unit))
    expected = ref.spatial_aggregate(
        ref.last_location(fx, unit, "2016-03-02", "2016-03-03"), ref.UNIT_COLUMNS[unit], redact
    )
    same(result(ctx, SpatialAggregate(locations, redact=redact)), expected)


@pytest.mark.parametrize("redact", [False, True])
def test_unique_subscriber_counts(ctx, fx, redact):
    q = UniqueSubscriberCounts(*GEN, make_spatial_unit("admin3"), hours=(8, 20), redact=redact)
    loc = ref.located(fx, "admin3", *GEN, hours=(8, 20))
    same(result(ctx, q), ref.unique_subscriber_counts(loc, ["pcod"], redact))


@pytest.mark.parametrize("redact", [False, True])
@pytest.mark.parametrize("how", ["inner", "full outer"])
def test_flows(ctx, fx, redact, how):
    unit = make_spatial_unit("admin2")
    a, b = daily_location("2016-03-01", unit), daily_location("2016-03-02", unit)
    expected = ref.flows(
        ref.last_location(fx, "admin2", "2016-03-01", "2016-03-02"),
        ref.last_location(fx, "admin2", "2016-03-02", "2016-03-03"),
        ["pcod"],
        redact,
        how={"inner": "inner", "full outer": "outer"}[how],
    )
    same(result(ctx, Flows(a, b, join_type=how, redact=redact)), expected)


@pytest.mark.parametrize("redact", [False, True])
@pytest.mark.parametrize("cls,side", [(InFlow, "to"), (OutFlow, "from")])
def test_in_and_out_flows_of_unique_locations(ctx, fx, cls, side, redact):
    unit = make_spatial_unit("admin3")
    a = UniqueLocations("2016-03-01", "2016-03-02", unit)
    b = UniqueLocations("2016-03-02", "2016-03-03", unit)
    expected = ref.flow_totals(
        ref.unique_locations(fx, "admin3", "2016-03-01", "2016-03-02"),
        ref.unique_locations(fx, "admin3", "2016-03-02", "2016-03-03"),
        ["pcod"],
        side,
        redact,
    )
    same(result(ctx, cls(a, b, redact=redact)), expected)


@pytest.mark.parametrize("redact", [False, True])
@pytest.mark.parametrize("interval", ["day", "hour", "min"])
def test_location_event_counts(ctx, fx, interval, redact):
    q = LocationEventCounts(
        *GEN, make_spatial_unit("admin1"), interval=interval, direction="out", redact=redact
    )
    loc = ref.located(fx, "admin1", *GEN, direction="out")
    same(result(ctx, q), ref.location_event_counts(loc, ["pcod"], interval, redact))


def test_location_event_counts_with_wrapping_hours_and_subset(ctx, fx):
    subset = EventCount(*GEN, tables=["sms"])
    members = set(result(ctx, subset).subscriber)
    q = LocationEventCounts(
        *GEN, make_spatial_unit("admin2"), interval="hour", hours=(21, 3), subscriber_subset=subset
    )
    loc = ref.located(fx, "admin2", *GEN, hours=(21, 3), subset=members)
    expected = ref.location_event_counts(loc, ["pcod"], "hour", True)
    assert len(expected) > 0
    same(result(ctx, q), expected)


@pytest.mark.parametrize("redact", [False, True])
def test_total_network_objects(ctx, fx, redact):
    q = TotalNetworkObjects(*GEN, make_spatial_unit("admin2"), total_by="hour", redact=redact)
    loc = ref.located(fx, "admin2", *GEN)
    same(result(ctx, q), ref.total_network_objects(loc, ["pcod"], "hour", redact))


def test_aggregate_network_objects(ctx, fx):
    tno = TotalNetworkObjects(*GEN, make_spatial_unit("admin1"), total_by="hour")
    q = AggregateNetworkObjects(tno, statistic="avg", aggregate_by="day")
    totals = ref.total_network_objects(ref.located(fx, "admin1", *GEN), ["pcod"], "hour", True)
    expected = (
        totals.assign(datetime=totals.datetime.dt.floor("D"))
        .groupby(["pcod", "datetime"])
        .value.mean()
        .reset_index()[["pcod", "value", "datetime"]]
    )
    same(result(ctx, q), expected)


@pytest.mark.parametrize("method", ["avg", "median", "max", "stddev"])
def test_joined_spatial_aggregate(ctx, fx, method):
    metric = RadiusOfGyration(*GEN)
    locations = daily_location("2016-03-05", make_spatial_unit("admin2"))
    expected = ref.joined_spatial_aggregate(
        ref.radius_of_gyration(fx, *GEN),
        ref.last_location(fx, "admin2", "2016-03-05", "2016-03-06"),
        ["pcod"],
        method,
        True,
    )
    same(result(ctx, JoinedSpatialAggregate(metric, locations, method=method)), expected, rtol=1e-7)


def test_joined_spatial_aggregate_distr(ctx, fx):
    metric = EventCount(*GEN)
    locations = daily_location("2016-03-05", make_spatial_unit("admin1"))
    df = result(ctx, JoinedSpatialAggregate(metric, locations, method="distr", redact=False))
    j = ref.event_count(fx, *GEN).merge(
        ref.last_location(fx, "admin1", "2016-03-05", "2016-03-06"), on="subscriber"
    )
    share = j.groupby(["pcod", "value"]).size() / j.groupby("pcod").size()
    expected = pd.DataFrame(
        {
            "pcod": [k[0] for k in share.index],
            "metric": "value",
            "key": [str(k[1]) for k in share.index],
            "value": share.to_numpy(),
        }
    )
    same(df, expected)
    redacted = result(ctx, JoinedSpatialAggregate(metric, locations, method="distr"))
    counts = j.groupby(["pcod", "value"]).size()
    keep = {(p, str(k)) for (p, k), n in counts.items() if n > 15}
    assert set(zip(redacted.pcod, redacted.key, strict=True)) == keep


@pytest.mark.parametrize("redact", [False, True])
def test_histogram_of_radius_of_gyration(ctx, fx, redact):
    q = HistogramAggregation(RadiusOfGyration(*GEN), bins=10, redact=redact)
    same(
        result(ctx, q), ref.histogram(ref.radius_of_gyration(fx, *GEN).value, 10, redact), rtol=1e-7
    )


def test_histogram_edges_and_range(ctx, fx):
    counts = ref.event_count(fx, *GEN).value
    q = HistogramAggregation(EventCount(*GEN), bins=4, range=(0, 100), redact=False)
    same(result(ctx, q), ref.histogram(counts, 4, False, (0, 100)))
    edges = HistogramAggregation(
        EventCount(*GEN), bins=[0, 10, 50, float(counts.max())], redact=False
    )
    df = result(ctx, edges)
    assert df.value.tolist() == [
        int(((counts >= 0) & (counts < 10)).sum()),
        int(((counts >= 10) & (counts < 50)).sum()),
        int(((counts >= 50) & (counts <= counts.max())).sum()),
    ]


@pytest.mark.parametrize("unit", ["admin1", "admin3", "lon-lat"])
def test_geography(ctx, fx, unit):
    df = result(ctx, Geography(make_spatial_unit(unit)))
    n = {
        "admin1": 2,
        "admin3": 16,
        "lon-lat": len(set(zip(fx.cells.lon, fx.cells.lat, strict=True))),
    }[unit]
    assert len(df) == n
    assert df.geom.notna().all()


def test_mapping_puts_a_border_cell_in_the_smallest_region(ctx, fx):
    unit = make_spatial_unit("admin3")
    m = result(ctx, unit).set_index("location_id")
    assert m.loc["C07", "pcod"] == "Z.1.2.03"
    assert np.isin(["C00", "C08", "C09"], m.index).all()
