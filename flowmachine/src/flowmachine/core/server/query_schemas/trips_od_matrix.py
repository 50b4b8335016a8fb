"""trips_od_matrix: FlowMachine's `TripsODMatrix`, subscribers per (origin, destination) of their trips in a
window (redacted). Also the base of consecutive_trips_od_matrix, which names another `query_class`."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

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
from flowmachine.features.location.trips_od_matrix import TripsODMatrix


class TripsODMatrixExposed(BaseExposedQuery):
    query_kind = "trips_od_matrix"
    query_class: ClassVar[Callable[..., Query]] = TripsODMatrix

    @property
    def _flowmachine_query_obj(self) -> Query:
        return self.query_class(
            self.start_date,
            self.end_date,
            get_spatial_unit_obj(self.aggregation_unit),
            hours=self.hours,
            tables=self.event_types,
            subscriber_subset=self.subscriber_subset,
        )


@register_kind(TOP_LEVEL)
class TripsODMatrixSchema(
    StartAndEndField,
    AggregationUnitMixin,
    EventTypesField,
    HoursField,
    SubscriberSubsetField,
    BaseSchema,
):
    __model__ = TripsODMatrixExposed

    query_kind = fields.String(validate=validate.OneOf([__model__.query_kind]), required=True)
