"""daily_location: a subscriber's last or most common location on one day."""

from __future__ import annotations

from marshmallow import fields, validate

from flowmachine.core.query import Query
from flowmachine.core.server.query_schemas.aggregation_unit import (
    AggregationUnitMixin,
    get_spatial_unit_obj,
)
from flowmachine.core.server.query_schemas.base_query_with_sampling import (
    BaseExposedQueryWithSampling,
    BaseQueryWithSamplingSchema,
)
from flowmachine.core.server.query_schemas.field_mixins import (
    EventTypesField,
    HoursField,
    ISODateTime,
    SubscriberSubsetField,
)
from flowmachine.core.server.query_schemas.registry import REFERENCE_LOCATION, register_kind
from flowmachine.features.subscriber.daily_location import daily_location


class DailyLocationExposed(BaseExposedQueryWithSampling):
    query_kind = "daily_location"

    @property
    def _unsampled_query_obj(self) -> Query:
        return daily_location(
            self.date,
            get_spatial_unit_obj(self.aggregation_unit),
            method=self.method,
            hours=self.hours,
            tables=self.event_types,
            subscriber_subset=self.subscriber_subset,
        )


@register_kind(REFERENCE_LOCATION)
class DailyLocationSchema(
    AggregationUnitMixin,
    EventTypesField,
    HoursField,
    SubscriberSubsetField,
    BaseQueryWithSamplingSchema,
):
    __model__ = DailyLocationExposed

    query_kind = fields.String(validate=validate.OneOf([__model__.query_kind]), required=True)
    date = ISODateTime(required=True)
    method = fields.String(required=True, validate=validate.OneOf(["last", "most-common"]))
