"""flows: FlowMachine's `Flows` between two locations of the same subscribers (redacted)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from marshmallow import ValidationError, fields, validate, validates_schema

from flowmachine.core.query import Query
from flowmachine.core.server.query_schemas.aggregation_unit import AggregationUnitKind
from flowmachine.core.server.query_schemas.base_exposed_query import BaseExposedQuery
from flowmachine.core.server.query_schemas.base_schema import BaseSchema
from flowmachine.core.server.query_schemas.reference_location import InputToFlowsSchema
from flowmachine.core.server.query_schemas.registry import TOP_LEVEL, register_kind
from flowmachine.features.location.flows import JOIN_TYPES, Flows


class FlowsExposed(BaseExposedQuery):
    """Also the base of inflows and outflows, which name another `query_class`."""

    query_kind = "flows"
    query_class: ClassVar[Callable[..., Query]] = Flows

    @property
    def aggregation_unit(self) -> str:
        return self.from_location.aggregation_unit

    @property
    def _flowmachine_query_obj(self) -> Query:
        return self.query_class(
            self.from_location._flowmachine_query_obj,
            self.to_location._flowmachine_query_obj,
            join_type=self.join_type,
        )


@register_kind(TOP_LEVEL)
class FlowsSchema(BaseSchema):
    __model__ = FlowsExposed

    query_kind = fields.String(validate=validate.OneOf([__model__.query_kind]), required=True)
    from_location = fields.Nested(InputToFlowsSchema, required=True)
    to_location = fields.Nested(InputToFlowsSchema, required=True)
    join_type = fields.String(validate=validate.OneOf(list(JOIN_TYPES)), load_default="inner")
    aggregation_unit = AggregationUnitKind(dump_only=True)

    @validates_schema
    def _same_unit(self, data: dict[str, Any], **kwargs: Any) -> None:
        a, b = data.get("from_location"), data.get("to_location")
        if a is not None and b is not None and a.aggregation_unit != b.aggregation_unit:
            raise ValidationError(
                "from_location and to_location must have the same aggregation unit.", "to_location"
            )
