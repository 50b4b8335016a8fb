"""most_frequent_location: FlowMachine's `MostFrequentLocation`, over a window of events, at an aggregation unit."""

from __future__ import annotations

from marshmallow import fields, validate

from flowmachine.core.server.query_schemas.event_window import (
    LocationsInWindowExposed,
    LocationsInWindowSchema,
)
from flowmachine.core.server.query_schemas.registry import REFERENCE_LOCATION, register_kind
from flowmachine.features.subscriber.most_frequent_location import MostFrequentLocation


class MostFrequentLocationExposed(LocationsInWindowExposed):
    query_kind = "most_frequent_location"
    query_class = MostFrequentLocation


@register_kind(REFERENCE_LOCATION)
class MostFrequentLocationSchema(LocationsInWindowSchema):
    __model__ = MostFrequentLocationExposed

    query_kind = fields.String(validate=validate.OneOf([__model__.query_kind]), required=True)
