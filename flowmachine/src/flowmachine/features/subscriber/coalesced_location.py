"""CoalescedLocation: each subscriber's preferred location, or else a fallback location they visited enough.

The fallback location counts only where `subscriber_location_weights` (e.g. LocationVisits) gives the
subscriber a weight of at least `weight_threshold` at it. A subscriber's location is taken whole from one
side: the preferred one if it is located (non-NULL), else the fallback one; a subscriber present in either
input is output, with NULL location columns if neither locates them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from psycopg import sql

from flowmachine.core.query import Query
from flowmachine.core.spatial_unit import SpatialUnit
from flowmachine.core.sql_parts import identifiers
from flowmachine.features.subscriber.base_location import BaseLocation
from flowmachine.features.subscriber.location_visits import same_unit

if TYPE_CHECKING:
    from flowmachine.core.context import Context


class CoalescedLocation(BaseLocation):
    def __init__(
        self,
        preferred_location: BaseLocation,
        fallback_location: BaseLocation,
        *,
        subscriber_location_weights: Query,
        weight_threshold: int,
        weight_column: str = "value",
    ) -> None:
        same_unit(
            [preferred_location, fallback_location, subscriber_location_weights],
            "coalesced_location",
        )
        self.preferred_location = preferred_location
        self.fallback_location = fallback_location
        self.subscriber_location_weights = subscriber_location_weights
        self.weight_threshold = weight_threshold
        self.weight_column = weight_column
        super().__init__()

    @property
    def spatial_unit(self) -> SpatialUnit:
        return self.preferred_location.spatial_unit

    def _make_query(self, ctx: Context) -> sql.Composable:
        L = self.location_columns
        on_location = sql.SQL(" AND ").join(
            sql.SQL("w.{c} = f.{c}").format(c=sql.Identifier(c)) for c in L
        )
        fallback = sql.SQL(
            """SELECT f.subscriber, {fL} FROM ({fallback}) f
               JOIN ({weights}) w ON w.subscriber = f.subscriber AND {on_location}
               WHERE w.{weight} >= {threshold}"""
        ).format(
            fL=identifiers(L, "f"),
            fallback=self.fallback_location.get_query(ctx),
            weights=self.subscriber_location_weights.get_query(ctx),
            on_location=on_location,
            weight=sql.Identifier(self.weight_column),
            threshold=sql.Literal(self.weight_threshold),
        )
        preferred_located = sql.SQL(" AND ").join(
            sql.SQL("p.{} IS NOT NULL").format(sql.Identifier(c)) for c in L
        )
        chosen = sql.SQL(", ").join(
            sql.SQL("CASE WHEN {located} THEN p.{c} ELSE f.{c} END AS {c}").format(
                located=preferred_located, c=sql.Identifier(c)
            )
            for c in L
        )
        return sql.SQL(
            """SELECT coalesce(p.subscriber, f.subscriber) AS subscriber, {chosen}
               FROM ({preferred}) p FULL OUTER JOIN ({fallback}) f ON p.subscriber = f.subscriber"""
        ).format(chosen=chosen, preferred=self.preferred_location.get_query(ctx), fallback=fallback)
