"""unique_locations: FlowMachine's `UniqueLocations`, over a window of events, at an aggregation unit."""

from __future__ import annotations

from marshmallow import fields, validate

from flowmachine.core.server.query_schemas.event_window import (
    LocationsInWindowExposed,
    LocationsInWindowSchema,
)
from flowmachine.features.subscriber.unique_locations import UniqueLocations


class UniqueLocationsExposed(LocationsInWindowExposed):
    query_kind = "unique_locations"
    query_class = UniqueLocations


class UniqueLocationsSchema(LocationsInWindowSchema):
    __model__ = UniqueLocationsExposed

    query_kind = fields.String(validate=validate.OneOf([__model__.query_kind]), required=True)
