"""event_count: FlowMachine's `EventCount`, one value per subscriber over a window of events."""

from __future__ import annotations

from marshmallow import fields, validate

from flowmachine.core.server.query_schemas.event_window import (
    DirectedEventsMetricExposed,
    DirectedEventsMetricSchema,
)
from flowmachine.features.subscriber.event_count import EventCount


class EventCountExposed(DirectedEventsMetricExposed):
    query_kind = "event_count"
    query_class = EventCount


class EventCountSchema(DirectedEventsMetricSchema):
    __model__ = EventCountExposed

    query_kind = fields.String(validate=validate.OneOf([__model__.query_kind]), required=True)
