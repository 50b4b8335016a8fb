"""inflows: FlowMachine's `InFlow`, subscribers per location at one end of flows (redacted)."""

from __future__ import annotations

from marshmallow import fields, validate

from flowmachine.core.server.query_schemas.flows import FlowsExposed, FlowsSchema
from flowmachine.core.server.query_schemas.registry import TOP_LEVEL, register_kind
from flowmachine.features.location.flows import InFlow


class InflowsExposed(FlowsExposed):
    query_kind = "inflows"
    query_class = InFlow


@register_kind(TOP_LEVEL)
class InflowsSchema(FlowsSchema):
    __model__ = InflowsExposed

    query_kind = fields.String(validate=validate.OneOf([__model__.query_kind]), required=True)
