"""spatial_aggregate: subscribers per location of a reference location (redacted)."""

from __future__ import annotations

from marshmallow import fields, validate

from flowmachine.core.query import Query
from flowmachine.core.server.query_schemas.aggregation_unit import AggregationUnitKind
from flowmachine.core.server.query_schemas.base_exposed_query import BaseExposedQuery
from flowmachine.core.server.query_schemas.base_schema import BaseSchema
from flowmachine.core.server.query_schemas.reference_location import ReferenceLocationSchema
from flowmachine.core.server.query_schemas.registry import TOP_LEVEL, register_kind
from flowmachine.features.location.spatial_aggregate import SpatialAggregate


class SpatialAggregateExposed(BaseExposedQuery):
    query_kind = "spatial_aggregate"

    @property
    def aggregation_unit(self) -> str:
        return self.locations.aggregation_unit

    @property
    def _flowmachine_query_obj(self) -> Query:
        return SpatialAggregate(self.locations._flowmachine_query_obj)


@register_kind(TOP_LEVEL)
class SpatialAggregateSchema(BaseSchema):
    __model__ = SpatialAggregateExposed

    query_kind = fields.String(validate=validate.OneOf([__model__.query_kind]), required=True)
    locations = fields.Nested(ReferenceLocationSchema, required=True)
    aggregation_unit = AggregationUnitKind(dump_only=True)
