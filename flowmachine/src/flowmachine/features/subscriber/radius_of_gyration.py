"""RadiusOfGyration: how far, in km, a subscriber's events lie from the centre of them all.

value = sqrt(mean over events of d(event point, centroid)²) / 1000, with the centroid the mean lon and lat of
the events (as FlowKit) and d the spheroid distance in metres. Events are first collapsed to (subscriber,
point, count), so one distance is computed per distinct point, not per event.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

from psycopg import sql

from flowmachine.core.query import Query
from flowmachine.core.spatial_unit import LonLatSpatialUnit
from flowmachine.features.subscriber.metric import SubscriberMetric
from flowmachine.features.utilities.subscriber_locations import (
    FromSubscriberLocations,
    SubscriberLocations,
)

if TYPE_CHECKING:
    from flowmachine.core.context import Context


class RadiusOfGyration(FromSubscriberLocations, SubscriberMetric):
    def __init__(
        self,
        start: str | dt.date | dt.datetime,
        stop: str | dt.date | dt.datetime,
        *,
        hours: Sequence[int] | None = None,
        tables: str | Sequence[str] | None = None,
        subscriber_subset: Query | None = None,
    ) -> None:
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
            """WITH points AS (
                   SELECT subscriber, lon, lat, count(*) AS n
                   FROM ({locations}) s GROUP BY subscriber, lon, lat),
               centres AS (
                   SELECT subscriber, sum(n * lon) / sum(n) AS lon, sum(n * lat) / sum(n) AS lat
                   FROM points GROUP BY subscriber)
               SELECT p.subscriber,
                      sqrt(sum(p.n * ST_Distance(ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4326)::geography,
                                                 ST_SetSRID(ST_MakePoint(c.lon, c.lat), 4326)::geography) ^ 2)
                           / sum(p.n)) / 1000 AS value
               FROM points p JOIN centres c USING (subscriber)
               GROUP BY p.subscriber"""
        ).format(locations=self.subscriber_locations.get_query(ctx))
