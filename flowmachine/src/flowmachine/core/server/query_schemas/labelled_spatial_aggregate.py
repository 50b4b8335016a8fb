"""labelled_spatial_aggregate: subscribers per coalesced location and mobility label (redacted per location)."""

from __future__ import annotations

from marshmallow import fields, validate

from flowmachine.core.query import Query
from flowmachine.core.server.query_schemas.aggregation_unit import AggregationUnitKind
from flowmachine.core.server.query_schemas.base_exposed_query import BaseExposedQuery
from flowmachine.core.server.query_schemas.base_schema import BaseSchema
from flowmachine.core.server.query_schemas.coalesced_location import CoalescedLocationSchema
from flowmachine.core.server.query_schemas.mobility_classification import (
    MobilityClassificationSchema,
)
from flowmachine.core.server.query_schemas.registry import TOP_LEVEL, register_kind
from flowmachine.features.location.labelled_spatial_aggregate import LabelledSpatialAggregate


class LabelledSpatialAggregateExposed(BaseExposedQuery):
    query_kind = "labelled_spatial_aggregate"

    @property
    def aggregation_unit(self) -> str:
        return self.locations.aggregation_unit

    @property
    def _flowmachine_query_obj(self) -> Query:
        return LabelledSpatialAggregate(
            self.locations._flowmachine_query_obj, self.labels._flowmachine_query_obj
        )


@register_kind(TOP_LEVEL)
class LabelledSpatialAggregateSchema(BaseSchema):
    __model__ = LabelledSpatialAggregateExposed

    query_kind = fields.String(validate=validate.OneOf([__model__.query_kind]), required=True)
    locations = fields.Nested(CoalescedLocationSchema, required=True)
    labels = fields.Nested(MobilityClassificationSchema, required=True)
    aggregation_unit = AggregationUnitKind(dump_only=True)
