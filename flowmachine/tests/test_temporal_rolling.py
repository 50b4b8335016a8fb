"""rolling_unique_subscriber_counts against independent computations on the fixture FlowDB (fixture_data):
pandas, one window at a time, and unique_subscriber_counts run once per window."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import reference as ref
from test_query_kinds import result, same

from flowmachine.core.errors import InvalidSpecError
from flowmachine.core.spatial_unit import make_spatial_unit
from flowmachine.features.location.rolling_unique_subscriber_counts import (
    BITMASK_MAX_DAYS,
    RollingUniqueSubscriberCounts,
)
from flowmachine.features.location.unique_subscriber_counts import UniqueSubscriberCounts
from flowmachine.features.subscriber.event_count import EventCount

GEN = ("2016-03-01", "2016-03-06")
HAND = ("2016-01-01", "2016-01-04")


def rolling_reference(
    fx, unit: str, start: str, stop: str, window: int, redacted: bool, **filters
) -> pd.DataFrame:
    """One pandas distinct count per window, the windows ending on each day with a whole window in range."""
    L = ref.UNIT_COLUMNS[unit]
    first = dt.date.fromisoformat(start) + dt.timedelta(days=window - 1)
    last = dt.date.fromisoformat(stop) - dt.timedelta(days=1)
    frames = []
    day = first
    while day <= last:
        lo = (day - dt.timedelta(days=window - 1)).isoformat()
        hi = (day + dt.timedelta(days=1)).isoformat()
        loc = ref.located(fx, unit, lo, hi, **filters)
        counts = ref.unique_subscriber_counts(loc, L, redacted)
        frames.append(counts.assign(date=day.isoformat())[[*L, "date", "value"]])
        day += dt.timedelta(days=1)
    return pd.concat(frames, ignore_index=True)


@pytest.mark.parametrize("redact", [False, True])
@pytest.mark.parametrize("window", [1, 2, 3, 5])
def test_temporal_rolling_matches_one_count_per_window(ctx, fixture_db, window, redact):
    q = RollingUniqueSubscriberCounts(
        *GEN, make_spatial_unit("admin2"), window=window, redact=redact
    )
    expected = rolling_reference(fixture_db, "admin2", *GEN, window, redact)
    assert len(expected) > 0
    same(result(ctx, q), expected)


@pytest.mark.parametrize("unit", ["admin3", "lon-lat", "versioned-site", "cell"])
def test_temporal_rolling_other_units_and_hand_edge_cases(ctx, fixture_db, unit):
    """The hand days hold events at unknown cells, without a cell and outside a cell's service dates."""
    q = RollingUniqueSubscriberCounts(*HAND, make_spatial_unit(unit), window=2, redact=False)
    same(result(ctx, q), rolling_reference(fixture_db, unit, *HAND, 2, False))


@pytest.mark.parametrize("redact", [False, True])
def test_temporal_rolling_over_a_long_range(ctx, fixture_db, redact):
    """Over 62 days the day masks give way to sorted presence runs: the same rows (both datasets, 65 days)."""
    both = ("2016-01-01", "2016-03-06")
    q = RollingUniqueSubscriberCounts(*both, make_spatial_unit("admin1"), window=7, redact=redact)
    assert q.days > BITMASK_MAX_DAYS
    expected = rolling_reference(fixture_db, "admin1", *both, 7, redact)
    assert len(expected) > 0
    same(result(ctx, q), expected)


def test_temporal_rolling_night_hours_across_midnight_with_subset(ctx, fixture_db):
    """Home-detection hours 22-06: the hours after midnight count on the next day."""
    subset = EventCount(*GEN, tables=["sms"])
    members = set(result(ctx, subset).subscriber)
    q = RollingUniqueSubscriberCounts(
        *GEN,
        make_spatial_unit("admin1"),
        window=3,
        hours=(22, 6),
        tables=["calls", "sms"],
        subscriber_subset=subset,
    )
    expected = rolling_reference(fixture_db, "admin1", *GEN, 3, True, hours=(22, 6), subset=members)
    assert len(expected) > 0
    same(result(ctx, q), expected)


def test_temporal_rolling_rows_equal_separate_unique_subscriber_counts(ctx, fixture_db):
    """Every published row is what unique_subscriber_counts publishes for that window (same redaction)."""
    q = RollingUniqueSubscriberCounts(*GEN, make_spatial_unit("admin2"), window=2)
    rolling = result(ctx, q)
    assert (rolling.value > 15).all()
    separate = []
    for end in ["2016-03-02", "2016-03-03", "2016-03-04", "2016-03-05"]:
        stop = (dt.date.fromisoformat(end) + dt.timedelta(days=1)).isoformat()
        start = (dt.date.fromisoformat(end) - dt.timedelta(days=1)).isoformat()
        counts = result(ctx, UniqueSubscriberCounts(start, stop, make_spatial_unit("admin2")))
        separate.append(counts.assign(date=end)[["pcod", "date", "value"]])
    same(rolling, pd.concat(separate, ignore_index=True))


@pytest.mark.parametrize(
    "args, message",
    [
        (("2016-03-01", "2016-03-03", 3), "at least one window"),
        (("2016-03-01", "2016-03-06", 0), "window_days"),
        (("2016-03-01T12:00", "2016-03-06", 2), "start_date must be a date"),
        (("2016-03-01", "2016-03-06 06:00", 2), "end_date must be a date"),
    ],
)
def test_temporal_rolling_refuses_bad_windows(args, message):
    start, stop, window = args
    with pytest.raises(InvalidSpecError, match=message):
        RollingUniqueSubscriberCounts(start, stop, make_spatial_unit("admin2"), window=window)
