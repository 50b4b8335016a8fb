"""displacement: FlowMachine's `Displacement`, distances (km) from a lon-lat reference location."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from flowmachine.core.query import Query
from flowmachine.core.server.query_schemas.base_query_with_sampling import (
    BaseExposedQueryWithSampling,
    BaseQueryWithSamplingSchema,
)
from flowmachine.core.server.query_schemas.field_mixins import (
    EventTypesField,
    HoursField,
    StartAndEndField,
    StatisticField,
    SubscriberSubsetField,
)
from flowmachine.core.server.query_schemas.reference_location import ReferenceLocationSchema
from flowmachine.features.subscriber.displacement import Displacement


class DisplacementExposed(BaseExposedQueryWithSampling):
    query_kind = "displacement"

    @property
    def _unsampled_query_obj(self) -> Query:
        return Displacement(
            self.start_date,
            self.end_date,
            self.reference_location._flowmachine_query_obj,
            statistic=self.statistic,
            hours=self.hours,
            tables=self.event_types,
            subscriber_subset=self.subscriber_subset,
        )


class DisplacementSchema(
    StartAndEndField,
    StatisticField,
    EventTypesField,
    HoursField,
    SubscriberSubsetField,
    BaseQueryWithSamplingSchema,
):
    __model__ = DisplacementExposed

    query_kind = fields.String(validate=validate.OneOf([__model__.query_kind]), required=True)
    reference_location = fields.Nested(ReferenceLocationSchema, required=True)

    @validates_schema(skip_on_field_errors=True)
    def _lon_lat_reference(self, data: dict[str, Any], **kwargs: Any) -> None:
        if getattr(data.get("reference_location"), "aggregation_unit", None) != "lon-lat":
            raise ValidationError(
                "Displacement needs a reference location at aggregation_unit lon-lat.",
                "reference_location",
            )
