"""unique_visitor_counts: subscribers seen at each location who are not active there at their reference
location (redacted so that no difference with the inputs' counts reveals a small count: FlowKit #5258)."""

from __future__ import annotations

from typing import Any

from marshmallow import fields, validate, validates_schema

from flowmachine.core.query import Query
from flowmachine.core.server.query_schemas.active_at_reference_location_counts import (
    ActiveAtReferenceLocationCountsSchema,
    same_unit,
)
from flowmachine.core.server.query_schemas.aggregation_unit import AggregationUnitKind
from flowmachine.core.server.query_schemas.base_exposed_query import BaseExposedQuery
from flowmachine.core.server.query_schemas.base_schema import BaseSchema
from flowmachine.core.server.query_schemas.registry import TOP_LEVEL, register_kind
from flowmachine.core.server.query_schemas.unique_subscriber_counts import (
    UniqueSubscriberCountsSchema,
)
from flowmachine.features.location.active_at_reference_location_counts import UniqueVisitorCounts


class UniqueVisitorCountsExposed(BaseExposedQuery):
    query_kind = "unique_visitor_counts"

    @property
    def aggregation_unit(self) -> str:
        return self.unique_subscriber_counts.aggregation_unit

    @property
    def _flowmachine_query_obj(self) -> Query:
        return UniqueVisitorCounts(
            self.active_at_reference_location_counts._flowmachine_query_obj,
            self.unique_subscriber_counts._flowmachine_query_obj,
        )


@register_kind(TOP_LEVEL)
class UniqueVisitorCountsSchema(BaseSchema):
    __model__ = UniqueVisitorCountsExposed

    query_kind = fields.String(validate=validate.OneOf([__model__.query_kind]), required=True)
    active_at_reference_location_counts = fields.Nested(
        ActiveAtReferenceLocationCountsSchema, required=True
    )
    unique_subscriber_counts = fields.Nested(UniqueSubscriberCountsSchema, required=True)
    aggregation_unit = AggregationUnitKind(dump_only=True)

    @validates_schema
    def _same_unit(self, data: dict[str, Any], **kwargs: Any) -> None:
        same_unit(data, "active_at_reference_location_counts", "unique_subscriber_counts")
