"""Differentially private releases against the fixture FlowDB: the exact bounded counts (before the noise) checked
against an independent pandas computation, every key of the release present, and the noise drawn once per id."""

from __future__ import annotations

import pandas as pd
import pytest
import reference as ref

from flowmachine.core.cache import compute, invalidate
from flowmachine.core.context import Context
from flowmachine.core.dp.queries import (
    DPCounts,
    DPFlows,
    DPHistogram,
    DPLocationEventCounts,
    DPSpatialAggregate,
    DPTotalNetworkObjects,
    DPUniqueSubscriberCounts,
)
from flowmachine.core.errors import InvalidSpecError, QueryFailedError
from flowmachine.core.spatial_unit import make_spatial_unit
from flowmachine.features.subscriber.daily_location import daily_location
from flowmachine.features.subscriber.event_count import EventCount
from flowmachine.features.utilities.subscriber_locations import SubscriberLocations

GEN = ("2016-03-01", "2016-03-03")
ADMIN3 = sorted(
    f"Z.{1 + ix // 2}.{1 + ix // 2 * 2 + iy // 2}.{ix}{iy}" for ix in range(4) for iy in range(4)
)


@pytest.fixture
def fx(fixture_db, ctx):
    return fixture_db


def exact(ctx: Context, q: DPCounts) -> pd.DataFrame:
    """The exact bounded counts of every key, before the noise."""
    statement = q.exact_rows(ctx)
    with ctx.pool.connection() as conn:
        return pd.DataFrame(conn.execute(statement).fetchall(), columns=q.column_names)


def located(fx) -> pd.DataFrame:
    return ref.located(fx, "admin3", *GEN)


def test_dp_unique_subscriber_counts_bound_each_subscriber(ctx, fx):
    loc = located(fx)
    pairs = loc[["subscriber", "pcod"]].drop_duplicates()
    units_per_subscriber = pairs.groupby("subscriber").size()
    assert units_per_subscriber.max() > 2  # the fixture has subscribers the bound cuts
    sl = SubscriberLocations(*GEN, make_spatial_unit("admin3"))
    bounded = exact(ctx, DPUniqueSubscriberCounts(sl, epsilon=1.0, bound=2)).set_index("pcod").value
    unbounded = ref.unique_subscriber_counts(loc, ["pcod"], False).set_index("pcod").value
    # every unit, each no larger than its unbounded count, and each subscriber counted min(2, units) times
    assert sorted(bounded.index) == ADMIN3
    assert (bounded <= unbounded.reindex(bounded.index, fill_value=0)).all()
    assert bounded.sum() == units_per_subscriber.clip(upper=2).sum()
    # with a bound nobody reaches, the counts are pandas' exactly (0 where nobody was seen)
    loose = DPUniqueSubscriberCounts(sl, epsilon=1.0, bound=int(units_per_subscriber.max()))
    got = exact(ctx, loose).set_index("pcod").value
    assert got.to_dict() == unbounded.reindex(ADMIN3, fill_value=0).to_dict()


def test_dp_location_event_counts_bound_each_subscribers_events(ctx, fx):
    loc = located(fx)
    per_subscriber = loc.groupby("subscriber").size()
    assert per_subscriber.max() > 10
    sl = SubscriberLocations(*GEN, make_spatial_unit("admin3"))
    q = DPLocationEventCounts(sl, interval="day", epsilon=1.0, bound=10)
    bounded = exact(ctx, q)
    assert q.sensitivity == 10
    # every unit on every day of the window, whatever the data hold
    assert len(bounded) == len(ADMIN3) * 2
    assert set(bounded.date) == {"2016-03-01", "2016-03-02"}
    assert bounded.value.sum() == per_subscriber.clip(upper=10).sum()
    unbounded = ref.location_event_counts(loc, ["pcod"], "day", False).set_index(["pcod", "date"])
    merged = bounded.set_index(["pcod", "date"]).value
    assert (merged <= unbounded.value.reindex(merged.index, fill_value=0)).all()
    loose = DPLocationEventCounts(sl, interval="day", epsilon=1.0, bound=int(per_subscriber.max()))
    got = exact(ctx, loose).set_index(["pcod", "date"]).value
    assert got.to_dict() == unbounded.value.reindex(got.index, fill_value=0).to_dict()


def test_dp_spatial_aggregate_and_flows_count_each_subscriber_once(ctx, fx):
    day1, day2 = (
        daily_location(d, make_spatial_unit("admin2"), method="last")
        for d in ("2016-03-01", "2016-03-02")
    )
    a = ref.last_location(fx, "admin2", "2016-03-01", "2016-03-02")
    b = ref.last_location(fx, "admin2", "2016-03-02", "2016-03-03")
    spatial = exact(ctx, DPSpatialAggregate(day1, epsilon=1.0)).set_index("pcod").value
    assert (
        spatial.to_dict()
        == ref.spatial_aggregate(a, ["pcod"], False)
        .set_index("pcod")
        .value.reindex(spatial.index, fill_value=0)
        .to_dict()
    )
    assert len(spatial) == 4
    flows = exact(ctx, DPFlows(day1, day2, epsilon=1.0))
    assert len(flows) == 16  # every (origin, destination) pair of the four admin2 regions
    expected = ref.flows(a, b, ["pcod"], False).set_index(["pcod_from", "pcod_to"]).value
    got = flows.set_index(["pcod_from", "pcod_to"]).value
    assert got.to_dict() == expected.reindex(got.index, fill_value=0).to_dict()


def test_dp_total_network_objects_and_histogram_publish_every_key(ctx, fx):
    sl = SubscriberLocations(*GEN, make_spatial_unit("admin2"))
    tno = exact(ctx, DPTotalNetworkObjects(sl, total_by="day", epsilon=1.0, bound=1_000_000))
    expected = ref.total_network_objects(ref.located(fx, "admin2", *GEN), ["pcod"], "day", False)
    assert list(tno.columns) == ["pcod", "value", "datetime"]
    assert len(tno) == 4 * 2
    got = (
        tno.assign(datetime=tno.datetime.dt.tz_convert(None)).set_index(["pcod", "datetime"]).value
    )
    want = expected.set_index(["pcod", "datetime"]).value
    assert got.to_dict() == want.reindex(got.index, fill_value=0).to_dict()
    # one (cell, day) per subscriber: fewer cells, never more, on the same keys
    tight = exact(ctx, DPTotalNetworkObjects(sl, total_by="day", epsilon=1.0, bound=1))
    tight_values = tight.set_index(["pcod", "datetime"]).value
    loose_values = tno.set_index(["pcod", "datetime"]).value
    assert sorted(tight_values.index) == sorted(loose_values.index)
    assert (tight_values <= loose_values.reindex(tight_values.index)).all()
    metric = EventCount(*GEN)
    hist = exact(ctx, DPHistogram(metric, bins=[0, 10, 20, 1000, 2000], range=None, epsilon=1.0))
    assert list(hist.lower_edge) == [0, 10, 20, 1000]
    assert hist.value.iloc[-1] == 0  # an empty bin is published too
    with pytest.raises(InvalidSpecError, match="range"):
        DPHistogram(metric, bins=5, range=None, epsilon=1.0)


def test_dp_same_query_id_same_noise_after_the_cache_is_dropped(ctx, fx):
    sl = SubscriberLocations(*GEN, make_spatial_unit("admin3"))
    q = DPUniqueSubscriberCounts(
        sl, epsilon=0.05, bound=3
    )  # noisy enough that two draws would differ
    compute(ctx, q)
    first = q.get_dataframe(ctx).sort_values("pcod").reset_index(drop=True)
    assert sorted(first.pcod) == ADMIN3
    assert (first.value >= 0).all()
    invalidate(ctx, q.query_id)
    assert not q.is_stored(ctx)
    compute(ctx, q)
    again = q.get_dataframe(ctx).sort_values("pcod").reset_index(drop=True)
    pd.testing.assert_frame_equal(first, again)
    # a different epsilon is a different query id, with its own draw
    other = DPUniqueSubscriberCounts(sl, epsilon=0.06, bound=3)
    assert other.query_id != q.query_id
    with ctx.pool.connection() as conn:
        kept = conn.execute(
            "SELECT epsilon, sensitivity, scale, n_rows FROM dp.releases WHERE query_id = %s",
            (q.query_id,),
        ).fetchone()
    assert kept == (0.05, 3, pytest.approx(60.0), 16)


def test_dp_release_too_large_is_refused(ctx, fx):
    from dataclasses import replace

    small = Context.open(replace(ctx.settings, dp_max_release_rows=10))
    try:
        sl = SubscriberLocations(*GEN, make_spatial_unit("admin3"))
        q = DPLocationEventCounts(sl, interval="hour", epsilon=1.0, bound=5)
        with pytest.raises(QueryFailedError, match="FLOWMACHINE_DP_MAX_RELEASE_ROWS"):
            compute(small, q)
    finally:
        small.close()
