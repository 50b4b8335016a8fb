"""radius_of_gyration: FlowMachine's `RadiusOfGyration`, one value per subscriber over a window of events."""

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
from flowmachine.features.subscriber.radius_of_gyration import RadiusOfGyration


class RadiusOfGyrationExposed(BaseExposedQueryWithSampling):
    query_kind = "radius_of_gyration"

    @property
    def _unsampled_query_obj(self) -> Query:
        return RadiusOfGyration(
            self.start_date,
            self.end_date,
            hours=self.hours,
            tables=self.event_types,
            subscriber_subset=self.subscriber_subset,
        )


class RadiusOfGyrationSchema(
    StartAndEndField,
    EventTypesField,
    HoursField,
    SubscriberSubsetField,
    BaseQueryWithSamplingSchema,
):
    __model__ = RadiusOfGyrationExposed

    query_kind = fields.String(validate=validate.OneOf([__model__.query_kind]), required=True)
