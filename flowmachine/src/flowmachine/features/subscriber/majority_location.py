"""MajorityLocation: the location holding more than half of each subscriber's total weight.

Weights come from a query with `subscriber, <location columns>, <weight column>` (e.g. LocationVisits). A
subscriber's total is the sum of their non-negative weights, or `minimum_total_weight` if that is greater; a
location is their majority location if its weight is strictly more than half that total (so at most one).
Subscribers without one are left out, or with `include_unlocatable` kept with NULL location columns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from psycopg import sql

from flowmachine.core.errors import InvalidSpecError
from flowmachine.core.query import Query
from flowmachine.core.spatial_unit import SpatialUnit
from flowmachine.core.sql_parts import identifiers
from flowmachine.features.subscriber.base_location import BaseLocation, spatial_unit_of

if TYPE_CHECKING:
    from flowmachine.core.context import Context


class MajorityLocation(BaseLocation):
    def __init__(
        self,
        subscriber_location_weights: Query,
        *,
        weight_column: str = "value",
        minimum_total_weight: float = 0.0,
        include_unlocatable: bool = False,
    ) -> None:
        columns = subscriber_location_weights.column_names
        location = spatial_unit_of(subscriber_location_weights).location_id_columns
        if weight_column not in columns or weight_column in ("subscriber", *location):
            raise InvalidSpecError(f"{weight_column!r} is not a weight column of the weights query")
        self.subscriber_location_weights = subscriber_location_weights
        self.weight_column = weight_column
        self.minimum_total_weight = float(minimum_total_weight)
        self.include_unlocatable = bool(include_unlocatable)
        super().__init__()

    @property
    def spatial_unit(self) -> SpatialUnit:
        return spatial_unit_of(self.subscriber_location_weights)

    def _make_query(self, ctx: Context) -> sql.Composable:
        L = identifiers(self.location_columns)
        w = sql.Identifier(self.weight_column)
        weights = self.subscriber_location_weights.get_query(ctx)
        majority = sql.SQL(
            """SELECT subscriber, {L} FROM (
                   SELECT subscriber, {L}, {w} AS weight,
                          greatest(coalesce(sum({w}) FILTER (WHERE {w} >= 0)
                                                OVER (PARTITION BY subscriber), 0), {minimum}) AS total
                   FROM ({weights}) w) t
               WHERE weight > total / 2.0"""
        ).format(L=L, w=w, minimum=sql.Literal(self.minimum_total_weight), weights=weights)
        if not self.include_unlocatable:
            return majority
        return sql.SQL(
            """SELECT s.subscriber, {mL} FROM (SELECT DISTINCT subscriber FROM ({weights}) w) s
               LEFT JOIN ({majority}) m ON m.subscriber = s.subscriber"""
        ).format(mL=identifiers(self.location_columns, "m"), weights=weights, majority=majority)
