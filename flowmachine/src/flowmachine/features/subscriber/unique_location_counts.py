"""UniqueLocationCounts: how many distinct locations (at a spatial unit) each subscriber was seen at."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

from psycopg import sql

from flowmachine.core.query import Query
from flowmachine.core.spatial_unit import SpatialUnit
from flowmachine.features.subscriber.metric import SubscriberMetric
from flowmachine.features.subscriber.unique_locations import UniqueLocations

if TYPE_CHECKING:
    from flowmachine.core.context import Context


class UniqueLocationCounts(SubscriberMetric):
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
        self.unique_locations = UniqueLocations(
            start,
            stop,
            spatial_unit,
            hours=hours,
            tables=tables,
            subscriber_subset=subscriber_subset,
        )
        super().__init__()

    @property
    def spatial_unit(self) -> SpatialUnit:
        return self.unique_locations.spatial_unit

    @property
    def start(self) -> dt.datetime:
        return self.unique_locations.start

    @property
    def stop(self) -> dt.datetime:
        return self.unique_locations.stop

    def _make_query(self, ctx: Context) -> sql.Composable:
        return sql.SQL(
            "SELECT subscriber, count(*) AS value FROM ({locations}) u GROUP BY subscriber"
        ).format(locations=self.unique_locations.get_query(ctx))
