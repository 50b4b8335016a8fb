"""Displacement: a statistic of the distances (km) between each subscriber's events and their reference location.

Every located event in the window counts (at lon-lat, as FlowKit); the distance is the spheroid distance
between the event's cell and the subscriber's reference location, which must be at lon-lat. Subscribers
without a reference location are left out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

from psycopg import sql

from flowmachine.core.errors import InvalidSpecError
from flowmachine.core.query import Query
from flowmachine.core.spatial_unit import LonLatSpatialUnit
from flowmachine.core.statistic import check_statistic, statistic_sql
from flowmachine.features.subscriber.base_location import BaseLocation
from flowmachine.features.subscriber.metric import SubscriberMetric
from flowmachine.features.utilities.subscriber_locations import (
    FromSubscriberLocations,
    SubscriberLocations,
)

if TYPE_CHECKING:
    from flowmachine.core.context import Context


class Displacement(FromSubscriberLocations, SubscriberMetric):
    def __init__(
        self,
        start: str | dt.date | dt.datetime,
        stop: str | dt.date | dt.datetime,
        reference_location: BaseLocation,
        *,
        statistic: str = "avg",
        hours: Sequence[int] | None = None,
        tables: str | Sequence[str] | None = None,
        subscriber_subset: Query | None = None,
    ) -> None:
        if not isinstance(getattr(reference_location, "spatial_unit", None), LonLatSpatialUnit):
            raise InvalidSpecError("displacement needs a reference location at lon-lat")
        self.statistic = check_statistic(statistic)
        self.reference_location = reference_location
        self.subscriber_locations = SubscriberLocations(
            start,
            stop,
            LonLatSpatialUnit(),
            tables=tables,
            hours=hours,
            subscriber_subset=subscriber_subset,
        )
        super().__init__()

    def _make_query(self, ctx: Context) -> sql.Composable:
        return sql.SQL(
            """WITH visits AS (
                   SELECT s.subscriber, s.lon, s.lat, r.lon AS ref_lon, r.lat AS ref_lat
                   FROM ({locations}) s JOIN ({reference}) r ON r.subscriber = s.subscriber),
               pairs AS (
                   SELECT lon, lat, ref_lon, ref_lat,
                          ST_Distance(ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography,
                                      ST_SetSRID(ST_MakePoint(ref_lon, ref_lat), 4326)::geography)
                              / 1000 AS km
                   FROM (SELECT DISTINCT lon, lat, ref_lon, ref_lat FROM visits) d)
               SELECT v.subscriber, {stat} AS value
               FROM visits v JOIN pairs p USING (lon, lat, ref_lon, ref_lat)
               GROUP BY v.subscriber"""
        ).format(
            locations=self.subscriber_locations.get_query(ctx),
            reference=self.reference_location.get_query(ctx),
            stat=statistic_sql(self.statistic, sql.SQL("p.km")),
        )
