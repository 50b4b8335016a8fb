"""handset: FlowMachine's `SubscriberHandsetCharacteristic` (a categorical metric: distr or mode only)."""

from __future__ import annotations

from marshmallow import fields, validate

from flowmachine.core.query import Query
from flowmachine.core.server.query_schemas.base_query_with_sampling import (
    BaseExposedQueryWithSampling,
    BaseQueryWithSamplingSchema,
)
from flowmachine.core.server.query_schemas.field_mixins import (
    EventTypesField,
    HoursField,
    StartAndEndField,
    SubscriberSubsetField,
)
from flowmachine.features.subscriber.handset import (
    CHARACTERISTICS,
    METHODS,
    SubscriberHandsetCharacteristic,
)


class HandsetExposed(BaseExposedQueryWithSampling):
    query_kind = "handset"

    @property
    def _unsampled_query_obj(self) -> Query:
        return SubscriberHandsetCharacteristic(
            self.start_date,
            self.end_date,
            self.characteristic,
            method=self.method,
            hours=self.hours,
            tables=self.event_types,
            subscriber_subset=self.subscriber_subset,
        )


class HandsetSchema(
    StartAndEndField,
    EventTypesField,
    HoursField,
    SubscriberSubsetField,
    BaseQueryWithSamplingSchema,
):
    __model__ = HandsetExposed

    query_kind = fields.String(validate=validate.OneOf([__model__.query_kind]), required=True)
    characteristic = fields.String(required=True, validate=validate.OneOf(CHARACTERISTICS))
    method = fields.String(required=True, validate=validate.OneOf(METHODS))
