"""localised_calendar_activity: subscribers per reference location and activity pattern.

A location is published only if each of its patterns is held by more than 15 subscribers. Unlike FlowKit's
schema, `reference_location` is required (FlowKit's code cannot run without it).
"""

from __future__ import annotations

from marshmallow import fields, validate

from flowmachine.core.query import Query
from flowmachine.core.server.query_schemas.aggregation_unit import AggregationUnitKind
from flowmachine.core.server.query_schemas.calendar_activity import (
    CalendarActivityExposed,
    CalendarActivitySchema,
)
from flowmachine.core.server.query_schemas.reference_location import ReferenceLocationSchema
from flowmachine.core.server.query_schemas.registry import TOP_LEVEL, register_kind
from flowmachine.features.location.labelled_spatial_aggregate import LabelledSpatialAggregate


class LocalisedCalendarActivityExposed(CalendarActivityExposed):
    query_kind = "localised_calendar_activity"

    @property
    def aggregation_unit(self) -> str:
        return self.reference_location.aggregation_unit

    @property
    def _unsampled_query_obj(self) -> Query:
        return LabelledSpatialAggregate(
            self.reference_location._flowmachine_query_obj, self._calendar_activity
        )


@register_kind(TOP_LEVEL)
class LocalisedCalendarActivitySchema(CalendarActivitySchema):
    __model__ = LocalisedCalendarActivityExposed

    query_kind = fields.String(validate=validate.OneOf([__model__.query_kind]), required=True)
    reference_location = fields.Nested(ReferenceLocationSchema, required=True)
    aggregation_unit = AggregationUnitKind(dump_only=True)
