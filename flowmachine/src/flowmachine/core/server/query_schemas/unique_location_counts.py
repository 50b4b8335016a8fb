"""unique_location_counts: FlowMachine's `UniqueLocationCounts` (no sampling, as in FlowKit)."""

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
from flowmachine.features.subscriber.unique_location_counts import UniqueLocationCounts


class UniqueLocationCountsExposed(BaseExposedQuery):
    query_kind = "unique_location_counts"

    @property
    def _flowmachine_query_obj(self) -> Query:
        return UniqueLocationCounts(
            self.start_date,
            self.end_date,
            get_spatial_unit_obj(self.aggregation_unit),
            hours=self.hours,
            tables=self.event_types,
            subscriber_subset=self.subscriber_subset,
        )


class UniqueLocationCountsSchema(
    StartAndEndField,
    AggregationUnitMixin,
    EventTypesField,
    HoursField,
    SubscriberSubsetField,
    BaseSchema,
):
    __model__ = UniqueLocationCountsExposed

    query_kind = fields.String(validate=validate.OneOf([__model__.query_kind]), required=True)
