"""coalesced_location: a preferred majority location, else a fallback one visited at least a threshold."""

from __future__ import annotations

from typing import Any

from marshmallow import fields, validate, validates_schema

from flowmachine.core.query import Query
from flowmachine.core.server.query_schemas.base_query_with_sampling import (
    BaseExposedQueryWithSampling,
    BaseQueryWithSamplingSchema,
)
from flowmachine.core.server.query_schemas.location_visits import (
    LocationVisitsSchema,
    check_same_unit,
)
from flowmachine.core.server.query_schemas.majority_location import MajorityLocationSchema
from flowmachine.core.server.query_schemas.registry import REFERENCE_LOCATION, register_kind
from flowmachine.features.subscriber.coalesced_location import CoalescedLocation


class CoalescedLocationExposed(BaseExposedQueryWithSampling):
    query_kind = "coalesced_location"

    @property
    def aggregation_unit(self) -> str:
        return self.preferred_location.aggregation_unit

    @property
    def _unsampled_query_obj(self) -> Query:
        return CoalescedLocation(
            self.preferred_location._flowmachine_query_obj,
            self.fallback_location._flowmachine_query_obj,
            subscriber_location_weights=self.subscriber_location_weights._flowmachine_query_obj,
            weight_threshold=self.weight_threshold,
        )


@register_kind(REFERENCE_LOCATION)
class CoalescedLocationSchema(BaseQueryWithSamplingSchema):
    __model__ = CoalescedLocationExposed

    query_kind = fields.String(validate=validate.OneOf([__model__.query_kind]), required=True)
    preferred_location = fields.Nested(MajorityLocationSchema, required=True)
    fallback_location = fields.Nested(MajorityLocationSchema, required=True)
    subscriber_location_weights = fields.Nested(LocationVisitsSchema, required=True)
    weight_threshold = fields.Integer(required=True)

    @validates_schema
    def _same_unit(self, data: dict[str, Any], **kwargs: Any) -> None:
        names = ("preferred_location", "fallback_location", "subscriber_location_weights")
        check_same_unit([data[n] for n in names if data.get(n) is not None], names[-1])
