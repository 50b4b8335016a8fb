"""Bases for individual-level kinds computed over one window of events; each kind names its query class.

class MostFrequentLocationExposed(LocationsInWindowExposed):
    query_kind = "most_frequent_location"
    query_class = MostFrequentLocation
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

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
    DirectionField,
    EventTypesField,
    HoursField,
    StartAndEndField,
    SubscriberSubsetField,
)


class LocationsInWindowExposed(BaseExposedQueryWithSampling):
    """A location kind built as `query_class(start, end, unit, hours=, tables=, subscriber_subset=)`."""

    query_class: ClassVar[Callable[..., Query]]

    @property
    def _unsampled_query_obj(self) -> Query:
        return self.query_class(
            self.start_date,
            self.end_date,
            get_spatial_unit_obj(self.aggregation_unit),
            hours=self.hours,
            tables=self.event_types,
            subscriber_subset=self.subscriber_subset,
        )


class LocationsInWindowSchema(
    StartAndEndField,
    AggregationUnitMixin,
    EventTypesField,
    HoursField,
    SubscriberSubsetField,
    BaseQueryWithSamplingSchema,
):
    """Fields of `LocationsInWindowExposed`; subclasses add `__model__` and `query_kind`."""


class DirectedEventsMetricExposed(BaseExposedQueryWithSampling):
    """A metric built as `query_class(start, end, direction=, hours=, tables=, subscriber_subset=)`."""

    query_class: ClassVar[Callable[..., Query]]

    @property
    def _unsampled_query_obj(self) -> Query:
        return self.query_class(
            self.start_date,
            self.end_date,
            direction=self.direction,
            hours=self.hours,
            tables=self.event_types,
            subscriber_subset=self.subscriber_subset,
        )


class DirectedEventsMetricSchema(
    StartAndEndField,
    DirectionField,
    EventTypesField,
    HoursField,
    SubscriberSubsetField,
    BaseQueryWithSamplingSchema,
):
    """Fields of `DirectedEventsMetricExposed`; subclasses add `__model__` and `query_kind`."""
