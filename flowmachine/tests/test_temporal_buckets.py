"""Weekly and monthly buckets (ISO weeks from Monday, calendar months) of location_event_counts,
total_network_objects and aggregate_network_objects against pandas on the fixture FlowDB (fixture_data).

The window covers both fixture datasets: the hand days (Friday 2016-01-01 to Sunday 01-03, one ISO week that
starts on Monday 2015-12-28, but two weeks if weeks started on Sunday) and the generated days (Tuesday 03-01 to
Saturday 03-05), so weeks, months and the week start are all told apart."""

from __future__ import annotations

import pandas as pd
import pytest
import reference as ref
from test_query_kinds import result, same

from flowmachine.core.errors import InvalidSpecError
from flowmachine.core.server.query_schemas.flowmachine_query import FlowmachineQuerySchema
from flowmachine.core.spatial_unit import make_spatial_unit
from flowmachine.features.location.location_event_counts import LocationEventCounts
from flowmachine.features.location.total_network_objects import (
    AggregateNetworkObjects,
    TotalNetworkObjects,
)

BOTH = ("2016-01-01", "2016-03-06")


def bucket_start(times: pd.Series, bucket: str) -> pd.Series:
    """The first instant of each time's ISO week (pandas' weeks ending on Sunday) or calendar month."""
    return times.dt.to_period({"week": "W-SUN", "month": "M"}[bucket]).dt.start_time


@pytest.mark.parametrize("redact", [False, True])
@pytest.mark.parametrize("bucket", ["week", "month"])
def test_temporal_location_event_counts_by_week_and_month(ctx, fixture_db, bucket, redact):
    q = LocationEventCounts(*BOTH, make_spatial_unit("admin1"), interval=bucket, redact=redact)
    loc = ref.located(fixture_db, "admin1", *BOTH)
    loc = loc.assign(date=bucket_start(loc.time, bucket).dt.date.astype(str))
    expected = (
        loc.groupby(["pcod", "date"])
        .agg(value=("time", "size"), n=("subscriber", "nunique"))
        .reset_index()
    )
    if redact:
        expected = expected[expected.n > 15]
    expected = expected.drop(columns="n")
    assert len(expected) > 0
    got = result(ctx, q)
    same(got, expected)
    if bucket == "week" and not redact:  # the hand days are one week, from Monday 2015-12-28
        assert set(got.date) == {"2015-12-28", "2016-02-29"}


@pytest.mark.parametrize("redact", [False, True])
def test_temporal_total_network_objects_by_week(ctx, fixture_db, redact):
    q = TotalNetworkObjects(*BOTH, make_spatial_unit("admin2"), total_by="week", redact=redact)
    loc = ref.located(fixture_db, "admin2", *BOTH)
    loc = loc.assign(datetime=bucket_start(loc.time, "week"))
    expected = (
        loc.groupby(["pcod", "datetime"])
        .agg(value=("location_id", "nunique"), n=("subscriber", "nunique"))
        .reset_index()
    )
    if redact:
        expected = expected[expected.n > 15]
    expected = expected.drop(columns="n")[["pcod", "value", "datetime"]]
    assert len(expected) > 0
    same(result(ctx, q), expected)


@pytest.mark.parametrize("aggregate_by", ["week", "month"])
def test_temporal_aggregate_network_objects_by_week_and_month(ctx, fixture_db, aggregate_by):
    tno = TotalNetworkObjects(*BOTH, make_spatial_unit("admin1"), total_by="day", redact=False)
    q = AggregateNetworkObjects(tno, statistic="max", aggregate_by=aggregate_by)
    loc = ref.located(fixture_db, "admin1", *BOTH)
    daily = ref.total_network_objects(loc, ["pcod"], "day", False)
    expected = (
        daily.assign(datetime=bucket_start(daily.datetime.dt.tz_localize(None), aggregate_by))
        .groupby(["pcod", "datetime"])
        .value.max()
        .reset_index()[["pcod", "value", "datetime"]]
    )
    same(result(ctx, q), expected)


def test_temporal_buckets_in_the_api_schemas():
    schema = FlowmachineQuerySchema()
    window = {"start_date": "2016-01-01", "end_date": "2016-03-06", "aggregation_unit": "admin1"}
    lec = schema.load({"query_kind": "location_event_counts", "interval": "week", **window})
    assert lec._flowmachine_query_obj.interval == "week"
    tno = {"query_kind": "total_network_objects", "total_by": "week", **window}
    assert schema.load(tno)._flowmachine_query_obj.total_by == "week"
    ano = schema.load(
        {
            "query_kind": "aggregate_network_objects",
            "total_network_objects": tno,
            "statistic": "avg",
            "aggregate_by": "week",
        }
    )
    assert ano._flowmachine_query_obj.aggregate_by == "week"
    with pytest.raises(InvalidSpecError, match="interval must be one of"):
        LocationEventCounts(*BOTH, make_spatial_unit("admin1"), interval="fortnight")
