"""visited_most_days: FlowMachine's `VisitedMostDays`, over a window of events, at an aggregation unit."""

from __future__ import annotations

from marshmallow import fields, validate

from flowmachine.core.server.query_schemas.event_window import (
    LocationsInWindowExposed,
    LocationsInWindowSchema,
)
from flowmachine.core.server.query_schemas.registry import REFERENCE_LOCATION, register_kind
from flowmachine.features.subscriber.visited_most_days import VisitedMostDays


class VisitedMostDaysExposed(LocationsInWindowExposed):
    query_kind = "visited_most_days"
    query_class = VisitedMostDays


@register_kind(REFERENCE_LOCATION)
class VisitedMostDaysSchema(LocationsInWindowSchema):
    __model__ = VisitedMostDaysExposed

    query_kind = fields.String(validate=validate.OneOf([__model__.query_kind]), required=True)
