"""majority_location: the location holding more than half of each subscriber's location visits."""

from __future__ import annotations

from marshmallow import fields, validate

from flowmachine.core.query import Query
from flowmachine.core.server.query_schemas.base_query_with_sampling import (
    BaseExposedQueryWithSampling,
    BaseQueryWithSamplingSchema,
)
from flowmachine.core.server.query_schemas.location_visits import LocationVisitsSchema
from flowmachine.core.server.query_schemas.one_of_query import OneOfQuerySchema
from flowmachine.core.server.query_schemas.registry import REFERENCE_LOCATION, register_kind
from flowmachine.features.subscriber.majority_location import MajorityLocation


class WeightedLocationQueriesSchema(OneOfQuerySchema):
    query_schemas = (LocationVisitsSchema,)


class MajorityLocationExposed(BaseExposedQueryWithSampling):
    query_kind = "majority_location"

    @property
    def aggregation_unit(self) -> str:
        return self.subscriber_location_weights.aggregation_unit

    @property
    def _unsampled_query_obj(self) -> Query:
        return MajorityLocation(
            self.subscriber_location_weights._flowmachine_query_obj,
            weight_column="value",
            minimum_total_weight=self.minimum_total_weight,
            include_unlocatable=self.include_unlocatable,
        )


@register_kind(REFERENCE_LOCATION)
class MajorityLocationSchema(BaseQueryWithSamplingSchema):
    __model__ = MajorityLocationExposed

    query_kind = fields.String(validate=validate.OneOf([__model__.query_kind]), required=True)
    subscriber_location_weights = fields.Nested(WeightedLocationQueriesSchema, required=True)
    minimum_total_weight = fields.Float(load_default=0.0)
    include_unlocatable = fields.Boolean(load_default=False)
