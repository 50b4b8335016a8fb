"""subscriber_degree: FlowMachine's `SubscriberDegree`, one value per subscriber over a window of events."""

from __future__ import annotations

from marshmallow import fields, validate

from flowmachine.core.server.query_schemas.event_window import (
    DirectedEventsMetricExposed,
    DirectedEventsMetricSchema,
)
from flowmachine.features.subscriber.subscriber_degree import SubscriberDegree


class SubscriberDegreeExposed(DirectedEventsMetricExposed):
    query_kind = "subscriber_degree"
    query_class = SubscriberDegree


class SubscriberDegreeSchema(DirectedEventsMetricSchema):
    __model__ = SubscriberDegreeExposed

    query_kind = fields.String(validate=validate.OneOf([__model__.query_kind]), required=True)
