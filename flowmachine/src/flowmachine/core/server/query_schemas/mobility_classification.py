"""mobility_classification: a mobility label per subscriber from coalesced locations of successive periods."""

from __future__ import annotations

from typing import Any

from marshmallow import fields, validate, validates_schema

from flowmachine.core.query import Query
from flowmachine.core.server.query_schemas.base_query_with_sampling import (
    BaseExposedQueryWithSampling,
    BaseQueryWithSamplingSchema,
)
from flowmachine.core.server.query_schemas.coalesced_location import CoalescedLocationSchema
from flowmachine.core.server.query_schemas.limits import MAX_LOCATIONS, AtMostItems
from flowmachine.core.server.query_schemas.location_visits import check_same_unit
from flowmachine.features.subscriber.mobility_classification import MobilityClassification


class MobilityClassificationExposed(BaseExposedQueryWithSampling):
    query_kind = "mobility_classification"

    @property
    def _unsampled_query_obj(self) -> Query:
        return MobilityClassification(
            [loc._flowmachine_query_obj for loc in self.locations], self.stay_length_threshold
        )


class MobilityClassificationSchema(BaseQueryWithSamplingSchema):
    __model__ = MobilityClassificationExposed

    query_kind = fields.String(validate=validate.OneOf([__model__.query_kind]), required=True)
    locations = fields.List(
        fields.Nested(CoalescedLocationSchema),
        required=True,
        validate=[validate.Length(min=1), AtMostItems(MAX_LOCATIONS)],
    )
    stay_length_threshold = fields.Integer(required=True)

    @validates_schema
    def _same_unit(self, data: dict[str, Any], **kwargs: Any) -> None:
        check_same_unit(data.get("locations") or [], "locations")
