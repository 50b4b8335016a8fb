"""outflows: FlowMachine's `OutFlow`, subscribers per location at one end of flows (redacted)."""

from __future__ import annotations

from marshmallow import fields, validate

from flowmachine.core.server.query_schemas.flows import FlowsExposed, FlowsSchema
from flowmachine.core.server.query_schemas.registry import TOP_LEVEL, register_kind
from flowmachine.features.location.flows import OutFlow


class OutflowsExposed(FlowsExposed):
    query_kind = "outflows"
    query_class = OutFlow


@register_kind(TOP_LEVEL)
class OutflowsSchema(FlowsSchema):
    __model__ = OutflowsExposed

    query_kind = fields.String(validate=validate.OneOf([__model__.query_kind]), required=True)
