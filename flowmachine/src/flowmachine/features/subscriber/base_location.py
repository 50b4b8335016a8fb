"""What reference locations (one location per subscriber) share."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from flowmachine.core.query import Query
from flowmachine.core.spatial_unit import SpatialUnit
from flowmachine.features.utilities.subscriber_locations import (
    FromSubscriberLocations,
    SubscriberLocations,
)


class BaseLocation(Query):
    """A query with columns `subscriber, <location columns of its spatial unit>`."""

    spatial_unit: SpatialUnit

    @property
    def location_columns(self) -> tuple[str, ...]:
        return self.spatial_unit.location_id_columns

    @property
    def column_names(self) -> list[str]:
        return ["subscriber", *self.location_columns]


class LocationsFromEvents(FromSubscriberLocations, BaseLocation):
    """A reference location derived from the located events of one window."""

    def __init__(
        self,
        start: str | dt.date | dt.datetime,
        stop: str | dt.date | dt.datetime,
        spatial_unit: SpatialUnit,
        *,
        hours: Sequence[int] | None = None,
        tables: str | Sequence[str] | None = None,
        subscriber_subset: Query | None = None,
    ) -> None:
        self.subscriber_locations = SubscriberLocations(
            start,
            stop,
            spatial_unit,
            tables=tables,
            hours=hours,
            subscriber_subset=subscriber_subset,
        )
        super().__init__()
