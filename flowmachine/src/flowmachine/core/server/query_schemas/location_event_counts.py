"""location_event_counts: events per location and day, hour or minute (redacted in the same pass)."""

from __future__ import annotations

from marshmallow import fields, validate

from flowmachine.core.query import Query
from flowmachine.core.server.query_schemas.aggregation_unit import (
    AggregationUnitMixin,
    get_spatial_unit_obj,
)
from flowmachine.core.server.query_schemas.base_exposed_query import BaseExposedQuery
from flowmachine.core.server.query_schemas.base_schema import BaseSchema
from flowmachine.core.server.query_schemas.field_mixins import (
    DirectionField,
    EventTypesField,
    HoursField,
    StartAndEndField,
    SubscriberSubsetField,
)
from flowmachine.core.server.query_schemas.registry import TOP_LEVEL, register_kind
from flowmachine.features.location.location_event_counts import INTERVALS, LocationEventCounts


class LocationEventCountsExposed(BaseExposedQuery):
    query_kind = "location_event_counts"

    @property
    def _flowmachine_query_obj(self) -> Query:
        return LocationEventCounts(
            self.start_date,
            self.end_date,
            get_spatial_unit_obj(self.aggregation_unit),
            interval=self.interval,
            direction=self.direction,
            hours=self.hours,
            tables=self.event_types,
            subscriber_subset=self.subscriber_subset,
        )


@register_kind(TOP_LEVEL)
class LocationEventCountsSchema(
    StartAndEndField,
    AggregationUnitMixin,
    DirectionField,
    EventTypesField,
    HoursField,
    SubscriberSubsetField,
    BaseSchema,
):
    __model__ = LocationEventCountsExposed

    query_kind = fields.String(validate=validate.OneOf([__model__.query_kind]), required=True)
    interval = fields.String(required=True, validate=validate.OneOf(list(INTERVALS)))
