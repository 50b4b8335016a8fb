"""consecutive_trips_od_matrix: FlowMachine's `ConsecutiveTripsODMatrix`, subscribers per (origin,
destination) of consecutive located events (redacted)."""

from __future__ import annotations

from marshmallow import fields, validate

from flowmachine.core.server.query_schemas.registry import TOP_LEVEL, register_kind
from flowmachine.core.server.query_schemas.trips_od_matrix import (
    TripsODMatrixExposed,
    TripsODMatrixSchema,
)
from flowmachine.features.location.trips_od_matrix import ConsecutiveTripsODMatrix


class ConsecutiveTripsODMatrixExposed(TripsODMatrixExposed):
    query_kind = "consecutive_trips_od_matrix"
    query_class = ConsecutiveTripsODMatrix


@register_kind(TOP_LEVEL)
class ConsecutiveTripsODMatrixSchema(TripsODMatrixSchema):
    __model__ = ConsecutiveTripsODMatrixExposed

    query_kind = fields.String(validate=validate.OneOf([__model__.query_kind]), required=True)
