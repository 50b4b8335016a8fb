"""outflows: FlowMachine's `OutFlow`, subscribers per location at one end of flows (redacted)."""

from __future__ import annotations

from marshmallow import fields, validate

from flowmachine.core.server.query_schemas.flows import FlowsExposed, FlowsSchema
from flowmachine.features.location.flows import OutFlow


class OutflowsExposed(FlowsExposed):
    query_kind = "outflows"
    query_class = OutFlow


class OutflowsSchema(FlowsSchema):
    __model__ = OutflowsExposed

    query_kind = fields.String(validate=validate.OneOf([__model__.query_kind]), required=True)
