"""The metrics kinds (unique_location_counts, topup_balance, topup_amount, handset, pareto_interactions,
nocturnal_events, displacement, total_active_periods) against pandas (reference_metrics) on the fixture."""

from __future__ import annotations

import pandas as pd
import pytest
import reference as ref
import reference_metrics as refm
from marshmallow import ValidationError
from test_query_kinds import result, same

from flowmachine.core.random_sample import RandomSample
from flowmachine.core.server.query_schemas.flowmachine_query import FlowmachineQuerySchema
from flowmachine.core.spatial_unit import make_spatial_unit
from flowmachine.features.location.joined_spatial_aggregate import JoinedSpatialAggregate
from flowmachine.features.nonspatial_aggregates.histogram_aggregation import HistogramAggregation
from flowmachine.features.subscriber.daily_location import daily_location
from flowmachine.features.subscriber.displacement import Displacement
from flowmachine.features.subscriber.handset import SubscriberHandsetCharacteristic
from flowmachine.features.subscriber.nocturnal_events import NocturnalEvents
from flowmachine.features.subscriber.pareto_interactions import ParetoInteractions
from flowmachine.features.subscriber.topup_amount import TopUpAmount
from flowmachine.features.subscriber.topup_balance import TopUpBalance
from flowmachine.features.subscriber.total_active_periods import TotalActivePeriodsSubscriber
from flowmachine.features.subscriber.unique_location_counts import UniqueLocationCounts

HAND = ("2016-01-01", "2016-01-04")
GEN = ("2016-03-01", "2016-03-06")
STATISTICS = ["count", "sum", "avg", "max", "min", "median", "stddev", "variance", "mode"]


@pytest.fixture(scope="module")
def ht(flowdb_cluster, fixture_db):
    """TACs on the fixture's events, infrastructure.tacs and events.topups (see fixture_data)."""
    from fixture_data import load_handsets_and_topups

    with flowdb_cluster.connect() as conn:
        return load_handsets_and_topups(conn, fixture_db)


@pytest.fixture
def fx(fixture_db, ctx):
    return fixture_db


# unique_location_counts ------------------------------------------------------------------------------------


@pytest.mark.parametrize("unit", ["admin3", "lon-lat", "cell"])
def test_unique_location_counts(ctx, fx, unit):
    q = UniqueLocationCounts(*HAND, make_spatial_unit(unit))
    same(result(ctx, q), refm.unique_location_counts(fx, unit, *HAND))


def test_unique_location_counts_filters(ctx, fx):
    q = UniqueLocationCounts(*GEN, make_spatial_unit("admin2"), hours=(21, 3), tables=["sms"])
    expected = refm.unique_location_counts(fx, "admin2", *GEN, hours=(21, 3), tables=("sms",))
    same(result(ctx, q), expected)


# nocturnal_events ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("night", [(20, 4), (22, 6), (1, 5), (0, 24)])
def test_nocturnal_events(ctx, fx, night):
    if night == (0, 24):
        with pytest.raises(Exception, match="night_hours"):
            NocturnalEvents(*HAND, night_hours=night)
        return
    q = NocturnalEvents(*HAND, night_hours=night)
    same(result(ctx, q), refm.nocturnal_events(fx, *HAND, night))


def test_nocturnal_events_window_not_wrapping_is_not_everything(ctx, fx):
    """FlowKit counts every event as nocturnal when start < end; here (1, 5) is 01:00-04:59 only."""
    df = result(ctx, NocturnalEvents(*HAND, night_hours=(1, 5), tables=["calls"]))
    assert 0 < df.value.mean() < 50
    same(df, refm.nocturnal_events(fx, *HAND, (1, 5), tables=("calls",)))


# pareto_interactions ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("p", [0.1, 0.5, 0.7, 0.8, 0.99])
def test_pareto_interactions(ctx, fx, p):
    same(
        result(ctx, ParetoInteractions(*HAND, proportion=p)), refm.pareto_interactions(fx, *HAND, p)
    )


def test_pareto_interactions_filters(ctx, fx):
    q = ParetoInteractions(*GEN, proportion=0.6, hours=(8, 20), tables=["calls"])
    expected = refm.pareto_interactions(fx, *GEN, 0.6, hours=(8, 20), tables=("calls",))
    same(result(ctx, q), expected)


@pytest.mark.parametrize("p", [0, 1])
def test_pareto_interactions_proportion_is_exclusive(p):
    with pytest.raises(Exception, match="proportion"):
        ParetoInteractions(*HAND, proportion=p)


# total_active_periods --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "start,total,length,unit",
    [
        ("2016-01-01", 3, 1, "days"),
        ("2016-01-01 12:00:00", 5, 6, "hours"),
        ("2016-03-01", 24, 90, "minutes"),
    ],
)
def test_total_active_periods(ctx, fx, start, total, length, unit):
    q = TotalActivePeriodsSubscriber(start, total, period_length=length, period_unit=unit)
    same(result(ctx, q), refm.total_active_periods(fx, start, total, length, unit))


def test_total_active_periods_filters(ctx, fx):
    q = TotalActivePeriodsSubscriber("2016-03-01", 5, hours=(22, 2), tables=["sms"])
    expected = refm.total_active_periods(
        fx, "2016-03-01", 5, 1, "days", hours=(22, 2), tables=("sms",)
    )
    same(result(ctx, q), expected)


# topups ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stat", STATISTICS)
def test_topup_amount(ctx, ht, stat):
    same(result(ctx, TopUpAmount(*GEN, statistic=stat)), refm.topup_amount(ht, *GEN, stat))


def test_topup_amount_hours(ctx, ht):
    q = TopUpAmount(*GEN, statistic="avg", hours=(20, 8))
    same(result(ctx, q), refm.topup_amount(ht, *GEN, "avg", hours=(20, 8)))


@pytest.mark.parametrize("stat", STATISTICS)
@pytest.mark.parametrize("window", [HAND, GEN])
def test_topup_balance(ctx, ht, stat, window):
    same(
        result(ctx, TopUpBalance(*window, statistic=stat)),
        refm.topup_balance(ht, *window, stat),
        rtol=1e-7,
    )


def test_topup_balance_hand_cases(ctx, ht):
    """Hand-made top-ups of fixture_data.topup_rows on the first day."""
    avg = result(ctx, TopUpBalance(*HAND, statistic="avg")).set_index("subscriber").value
    # sub0001: pre 1.0 for 12 h, then post 6.0 for 60 h
    assert float(avg["sub0001"]) == pytest.approx((1 * 12 + 6 * 60) / 72)
    mode = result(ctx, TopUpBalance(*HAND, statistic="mode")).set_index("subscriber").value
    # sub0002: 0 for 8h, 25 for 8h, 3.5 for 9h, 22 for 47h -> 22
    assert float(mode["sub0002"]) == 22
    median = result(ctx, TopUpBalance(*HAND, statistic="median")).set_index("subscriber").value
    # sorted balances 0 (8h), 3.5 (9h), 22 (47h), 25 (8h): half of 72h is reached at 22
    assert float(median["sub0002"]) == 22


# handset ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["last", "most-common"])
@pytest.mark.parametrize("characteristic", ["hnd_type", "brand", "model", "software_os_name"])
def test_handset(ctx, fx, ht, characteristic, method):
    q = SubscriberHandsetCharacteristic(*HAND, characteristic, method=method)
    same(result(ctx, q), refm.handset(fx, ht, *HAND, characteristic, method))


def test_handset_filters(ctx, fx, ht):
    q = SubscriberHandsetCharacteristic(*GEN, "model", method="last", hours=(6, 18), tables=["sms"])
    expected = refm.handset(fx, ht, *GEN, "model", "last", hours=(6, 18), tables=("sms",))
    same(result(ctx, q), expected)


def test_handset_last_tie_on_time_goes_to_greater_tac(ctx, fx, ht):
    """sub0900's two last events of day one share 23:00:00; the greater TAC's model is reported."""
    e = ht.event_tacs.merge(fx.events, on=["cdr_type", "id", "outgoing"])
    tied = e[(e.msisdn == "sub0900") & e.id.isin(["t1", "t2"])].tac.dropna()
    df = result(ctx, SubscriberHandsetCharacteristic("2016-01-01", "2016-01-02", "model"))
    assert tied.nunique() == 2
    model = df.set_index("subscriber").value["sub0900"]
    assert model == ht.tacs.set_index("id").model[int(tied.max())]


@pytest.mark.parametrize(
    "characteristic,unit,published",
    [("brand", "admin1", False), ("software_os_vendor", "admin1", True)],
)
def test_joined_spatial_aggregate_of_handset_distr(ctx, fx, ht, characteristic, unit, published):
    """A location's distribution is published whole (every category, NULL included, over 15, and the located
    subscribers without a handset 0 or over 15) or not at all (docs/compatibility.md)."""
    exposed = FlowmachineQuerySchema().load(
        {
            "query_kind": "joined_spatial_aggregate",
            "metric": {
                "query_kind": "handset",
                **WINDOW,
                "characteristic": characteristic,
                "method": "last",
            },
            "locations": DAILY | {"aggregation_unit": unit},
            "method": "distr",
        }
    )
    df = result(ctx, exposed._flowmachine_query_obj)
    assert list(df.columns) == ["pcod", "metric", "key", "value"]
    located = ref.last_location(fx, unit, "2016-03-05", "2016-03-06")
    j = refm.handset(fx, ht, *GEN, characteristic, "last").merge(located, on="subscriber")
    n = j.groupby(["pcod", "value"], dropna=False).subscriber.nunique()
    share = n / j.groupby("pcod").size()
    without = located.groupby("pcod").subscriber.nunique() - j.groupby("pcod").subscriber.nunique()
    whole = {
        p for p in j.pcod.unique() if (n.loc[p] > 15).all() and (without[p] == 0 or without[p] > 15)
    }
    assert bool(whole) == published
    rows = share.rename("share").reset_index().set_axis(["pcod", "key", "value"], axis=1)
    rows = rows[rows.pcod.isin(whole)]
    expected = pd.DataFrame(
        {
            "pcod": rows.pcod.to_numpy(),
            "metric": "value",
            "key": [None if pd.isna(k) else k for k in rows.key],
            "value": rows.value.to_numpy(),
        }
    )
    same(df, expected)
    if not published:  # a category of 15 or fewer (NULL: no handset known) hides the whole location
        assert (n <= 15).any()


@pytest.mark.parametrize("method", ["avg", "sum", "median"])
def test_handset_rejects_numeric_methods_and_histograms(method):
    metric = {"query_kind": "handset", **WINDOW, "characteristic": "brand", "method": "last"}
    with pytest.raises(ValidationError, match="method"):
        FlowmachineQuerySchema().load(
            {
                "query_kind": "joined_spatial_aggregate",
                "metric": metric,
                "locations": DAILY,
                "method": method,
            }
        )
    FlowmachineQuerySchema().load(
        {
            "query_kind": "joined_spatial_aggregate",
            "metric": metric,
            "locations": DAILY,
            "method": "mode",
        }
    )
    with pytest.raises(ValidationError):
        FlowmachineQuerySchema().load(
            {"query_kind": "histogram_aggregate", "metric": metric, "bins": {"n_bins": 3}}
        )


# displacement ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stat", ["avg", "max", "median", "stddev", "count"])
def test_displacement(ctx, fx, stat):
    home = daily_location("2016-03-01", make_spatial_unit("lon-lat"))
    q = Displacement(*GEN, home, statistic=stat)
    expected = refm.displacement(
        fx, ref.last_location(fx, "lon-lat", "2016-03-01", "2016-03-02"), *GEN, stat
    )
    same(result(ctx, q), expected, rtol=1e-7)


def test_displacement_filters(ctx, fx):
    home = daily_location("2016-01-01", make_spatial_unit("lon-lat"), method="most-common")
    q = Displacement(*HAND, home, statistic="avg", hours=(20, 4), tables=["calls"])
    expected = refm.displacement(
        fx,
        ref.most_frequent_location(fx, "lon-lat", "2016-01-01", "2016-01-02"),
        *HAND,
        "avg",
        hours=(20, 4),
        tables=("calls",),
    )
    same(result(ctx, q), expected, rtol=1e-7)


def test_displacement_needs_lon_lat_reference():
    with pytest.raises(Exception, match="lon-lat"):
        Displacement(*GEN, daily_location("2016-03-01", make_spatial_unit("admin3")))
    with pytest.raises(ValidationError, match="lon-lat"):
        FlowmachineQuerySchema().load(
            {
                "query_kind": "histogram_aggregate",
                "metric": _spec("displacement") | {"reference_location": DAILY},
                "bins": {"n_bins": 3},
            }
        )


# nested in aggregates, through the API schemas --------------------------------------------------------------

DAILY = {
    "query_kind": "daily_location",
    "date": "2016-03-05",
    "aggregation_unit": "admin2",
    "method": "last",
}
WINDOW = {"start_date": GEN[0], "end_date": GEN[1]}
METRIC_SPECS = {
    "unique_location_counts": {**WINDOW, "aggregation_unit": "admin3"},
    "nocturnal_events": {**WINDOW, "night_hours": {"start_hour": 20, "end_hour": 4}},
    "pareto_interactions": {**WINDOW, "proportion": 0.8},
    "total_active_periods": {"start_date": GEN[0], "total_periods": 5},
    "topup_amount": {**WINDOW, "statistic": "avg"},
    "topup_balance": {**WINDOW, "statistic": "avg"},
    "displacement": {
        **WINDOW,
        "statistic": "avg",
        "reference_location": DAILY | {"aggregation_unit": "lon-lat", "date": "2016-03-01"},
    },
}


def _spec(kind: str) -> dict:
    return {"query_kind": kind, **METRIC_SPECS[kind]}


@pytest.mark.parametrize("kind", sorted(METRIC_SPECS))
def test_joined_spatial_aggregate_of_metric(ctx, fx, ht, kind):
    exposed = FlowmachineQuerySchema().load(
        {
            "query_kind": "joined_spatial_aggregate",
            "metric": _spec(kind),
            "locations": DAILY,
            "method": "avg",
        }
    )
    q = exposed._flowmachine_query_obj
    assert isinstance(q, JoinedSpatialAggregate) and q.redact
    metric = result(ctx, q.metric)
    expected = ref.joined_spatial_aggregate(
        metric, ref.last_location(fx, "admin2", "2016-03-05", "2016-03-06"), ["pcod"], "avg", True
    )
    assert len(expected) > 0
    same(result(ctx, q), expected, rtol=1e-7)


@pytest.mark.parametrize("kind", sorted(METRIC_SPECS))
def test_histogram_of_metric(ctx, fx, ht, kind):
    exposed = FlowmachineQuerySchema().load(
        {"query_kind": "histogram_aggregate", "metric": _spec(kind), "bins": {"n_bins": 5}}
    )
    q = exposed._flowmachine_query_obj
    assert isinstance(q, HistogramAggregation)
    values = result(ctx, q.metric).value.astype(float)
    same(result(ctx, q), ref.histogram(values, 5, True), rtol=1e-7)


@pytest.mark.parametrize("kind", sorted(METRIC_SPECS))
def test_sampling_where_flowkit_has_it(kind):
    spec = _spec(kind) | {
        "sampling": {"sampling_method": "bernoulli", "seed": 0.5, "fraction": 0.5}
    }
    # (a histogram refuses a sampled metric when built: test_attack_sampling.py)
    wrapped = {"query_kind": "joined_spatial_aggregate", "metric": spec, "locations": DAILY}
    wrapped["method"] = "mode"
    if kind in ("unique_location_counts", "total_active_periods"):
        with pytest.raises(ValidationError):
            FlowmachineQuerySchema().load(wrapped)
    else:
        q = FlowmachineQuerySchema().load(wrapped)._flowmachine_query_obj
        assert isinstance(q.metric, RandomSample)


@pytest.mark.parametrize(
    "kind,bad",
    [
        ("pareto_interactions", {"proportion": 1}),
        ("pareto_interactions", {"proportion": 0}),
        ("topup_amount", {"statistic": "distr"}),
        ("topup_balance", {"event_types": ["topups"]}),
        ("nocturnal_events", {"hours": {"start_hour": 1, "end_hour": 2}}),
        ("total_active_periods", {"total_periods": 0}),
        ("total_active_periods", {"period_unit": "weeks"}),
        ("unique_location_counts", {"aggregation_unit": "admin9"}),
    ],
)
def test_bad_metric_specs(kind, bad):
    spec = {"query_kind": "histogram_aggregate", "metric": _spec(kind) | bad, "bins": {"n_bins": 5}}
    with pytest.raises(ValidationError):
        FlowmachineQuerySchema().load(spec)


def test_frame_helper_sanity():
    assert list(refm._frame({"a": 1}).columns) == ["subscriber", "value"]
    assert pd.isna(refm.statistic(pd.Series([1.0]), "stddev"))


def test_flowclient_spec_builders_load():
    """The client's builders for these kinds give specs our schemas accept, nested where FlowKit nests them."""
    fc = pytest.importorskip("flowclient")
    window = {"start_date": GEN[0], "end_date": GEN[1]}
    home = fc.daily_location_spec(date="2016-03-01", aggregation_unit="lon-lat", method="last")
    numeric = [
        fc.unique_location_counts_spec(**window, aggregation_unit="admin3"),
        fc.topup_balance_spec(**window, statistic="median"),
        fc.topup_amount_spec(**window, statistic="mode"),
        fc.pareto_interactions_spec(**window, proportion=0.8),
        fc.nocturnal_events_spec(**window, hours=(20, 4)),
        fc.displacement_spec(**window, statistic="avg", reference_location=home),
        fc.total_active_periods_spec(start_date=GEN[0], total_periods=5),
    ]
    for metric in numeric:
        FlowmachineQuerySchema().load(fc.aggregates.histogram_aggregate_spec(metric=metric, bins=5))
        FlowmachineQuerySchema().load(
            fc.aggregates.joined_spatial_aggregate_spec(
                locations=DAILY, metric=metric, method="avg"
            )
        )
    handset = fc.handset_spec(**window, characteristic="brand", method="most-common")
    FlowmachineQuerySchema().load(
        fc.aggregates.joined_spatial_aggregate_spec(locations=DAILY, metric=handset, method="distr")
    )
