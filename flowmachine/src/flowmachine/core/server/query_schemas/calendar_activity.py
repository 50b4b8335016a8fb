"""calendar_activity: subscribers counted per activity pattern (the periods in which they had events).

Patterns held by 15 or fewer subscribers are left out. With `sampling`, the redacted patterns are sampled
(as in FlowKit), not the subscribers.
"""

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
    PeriodsField,
    SubscriberSubsetField,
)
from flowmachine.core.server.query_schemas.registry import TOP_LEVEL, register_kind
from flowmachine.features.nonspatial_aggregates.per_value_aggregate import PerValueAggregate
from flowmachine.features.subscriber.calendar_activity import CalendarActivity


class CalendarActivityExposed(BaseExposedQueryWithSampling):
    query_kind = "calendar_activity"

    @property
    def _calendar_activity(self) -> CalendarActivity:
        return CalendarActivity(
            self.start_date,
            self.total_periods,
            period_length=self.period_length,
            period_unit=self.period_unit,
            hours=self.hours,
            tables=self.event_types,
            subscriber_subset=self.subscriber_subset,
        )

    @property
    def _unsampled_query_obj(self) -> Query:
        return PerValueAggregate(self._calendar_activity)


@register_kind(TOP_LEVEL)
class CalendarActivitySchema(
    PeriodsField, EventTypesField, HoursField, SubscriberSubsetField, BaseQueryWithSamplingSchema
):
    __model__ = CalendarActivityExposed

    query_kind = fields.String(validate=validate.OneOf([__model__.query_kind]), required=True)
