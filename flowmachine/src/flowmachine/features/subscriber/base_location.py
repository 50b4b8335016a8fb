"""What reference locations (one location per subscriber) share."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

from flowmachine.core.errors import InvalidSpecError
from flowmachine.core.query import Query
from flowmachine.core.spatial_unit import CellSpatialUnit, GeomSpatialUnit, SpatialUnit
from flowmachine.features.utilities.subscriber_locations import (
    FromSubscriberLocations,
    SubscriberLocations,
)


def spatial_unit_of(query: Query) -> SpatialUnit:
    """The spatial unit of a query whose rows are placed at locations (a location, location visits, ...);
    InvalidSpecError for a query without one."""
    unit = getattr(query, "spatial_unit", None)
    if not isinstance(unit, CellSpatialUnit | GeomSpatialUnit):
        raise InvalidSpecError(f"{type(query).__name__} has no spatial unit")
    return unit


class BaseLocation(Query):
    """A query with columns `subscriber, <location columns of its spatial unit>`."""

    if TYPE_CHECKING:
        # Each subclass gives its spatial unit: an attribute, or a property reading its input's.
        @property
        def spatial_unit(self) -> SpatialUnit: ...

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
