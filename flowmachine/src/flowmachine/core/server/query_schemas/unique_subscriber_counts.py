"""unique_subscriber_counts: distinct subscribers seen at each location in a window (redacted)."""

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
    EventTypesField,
    HoursField,
    StartAndEndField,
    SubscriberSubsetField,
)
from flowmachine.core.server.query_schemas.registry import TOP_LEVEL, register_kind
from flowmachine.features.location.unique_subscriber_counts import UniqueSubscriberCounts


class UniqueSubscriberCountsExposed(BaseExposedQuery):
    query_kind = "unique_subscriber_counts"

    @property
    def _flowmachine_query_obj(self) -> Query:
        return UniqueSubscriberCounts(
            self.start_date,
            self.end_date,
            get_spatial_unit_obj(self.aggregation_unit),
            hours=self.hours,
            tables=self.event_types,
            subscriber_subset=self.subscriber_subset,
        )


@register_kind(TOP_LEVEL)
class UniqueSubscriberCountsSchema(
    StartAndEndField,
    AggregationUnitMixin,
    EventTypesField,
    HoursField,
    SubscriberSubsetField,
    BaseSchema,
):
    __model__ = UniqueSubscriberCountsExposed

    query_kind = fields.String(validate=validate.OneOf([__model__.query_kind]), required=True)
