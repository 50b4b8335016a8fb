"""daily_location: a subscriber's location on one day, by their last or their most common location."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from flowmachine.core.dates import to_datetime
from flowmachine.core.errors import InvalidSpecError
from flowmachine.core.query import Query
from flowmachine.core.spatial_unit import SpatialUnit
from flowmachine.features.subscriber.last_location import LastLocation
from flowmachine.features.subscriber.most_frequent_location import MostFrequentLocation

METHODS = ("last", "most-common")


def daily_location(
    date: str | dt.date | dt.datetime,
    spatial_unit: SpatialUnit,
    *,
    method: str = "last",
    hours: Sequence[int] | None = None,
    tables: str | Sequence[str] | None = None,
    subscriber_subset: Query | None = None,
) -> LastLocation | MostFrequentLocation:
    """The location of each subscriber in the 24 hours from `date` (midnight if it has no time)."""
    start = to_datetime(date)
    stop = start + dt.timedelta(days=1)
    kinds: dict[str, type[LastLocation] | type[MostFrequentLocation]] = {
        "last": LastLocation,
        "most-common": MostFrequentLocation,
    }
    if method not in kinds:
        raise InvalidSpecError(f"method must be 'last' or 'most-common', not {method!r}")
    return kinds[method](
        start, stop, spatial_unit, hours=hours, tables=tables, subscriber_subset=subscriber_subset
    )
