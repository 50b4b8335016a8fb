"""nocturnal_events: FlowMachine's `NocturnalEvents`, the percentage of each subscriber's events at night."""

from __future__ import annotations

from marshmallow import fields, validate

from flowmachine.core.query import Query
from flowmachine.core.server.query_schemas.base_query_with_sampling import (
    BaseExposedQueryWithSampling,
    BaseQueryWithSamplingSchema,
)
from flowmachine.core.server.query_schemas.field_mixins import (
    EventTypesField,
    HoursSchema,
    StartAndEndField,
    SubscriberSubsetField,
)
from flowmachine.features.subscriber.nocturnal_events import NocturnalEvents


class NocturnalEventsExposed(BaseExposedQueryWithSampling):
    query_kind = "nocturnal_events"

    @property
    def _unsampled_query_obj(self) -> Query:
        return NocturnalEvents(
            self.start_date,
            self.end_date,
            night_hours=self.night_hours,
            tables=self.event_types,
            subscriber_subset=self.subscriber_subset,
        )


class NocturnalEventsSchema(
    StartAndEndField, EventTypesField, SubscriberSubsetField, BaseQueryWithSamplingSchema
):
    __model__ = NocturnalEventsExposed

    query_kind = fields.String(validate=validate.OneOf([__model__.query_kind]), required=True)
    night_hours = fields.Nested(HoursSchema, required=True)
