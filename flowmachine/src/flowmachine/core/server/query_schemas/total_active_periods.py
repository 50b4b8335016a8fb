"""total_active_periods: FlowMachine's `TotalActivePeriodsSubscriber` (no sampling, as FlowKit's schema)."""

from __future__ import annotations

from marshmallow import fields, validate

from flowmachine.core.query import Query
from flowmachine.core.server.query_schemas.base_exposed_query import BaseExposedQuery
from flowmachine.core.server.query_schemas.base_schema import BaseSchema
from flowmachine.core.server.query_schemas.field_mixins import (
    EventTypesField,
    HoursField,
    PeriodsField,
    SubscriberSubsetField,
)
from flowmachine.features.subscriber.total_active_periods import TotalActivePeriodsSubscriber


class TotalActivePeriodsExposed(BaseExposedQuery):
    query_kind = "total_active_periods"

    @property
    def _flowmachine_query_obj(self) -> Query:
        return TotalActivePeriodsSubscriber(
            self.start_date,
            self.total_periods,
            period_length=self.period_length,
            period_unit=self.period_unit,
            hours=self.hours,
            tables=self.event_types,
            subscriber_subset=self.subscriber_subset,
        )


class TotalActivePeriodsSchema(
    PeriodsField, EventTypesField, HoursField, SubscriberSubsetField, BaseSchema
):
    __model__ = TotalActivePeriodsExposed

    query_kind = fields.String(validate=validate.OneOf([__model__.query_kind]), required=True)
