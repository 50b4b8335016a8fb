"""active_at_reference_location_counts: subscribers per reference location who were seen there (redacted)."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from flowmachine.core.query import Query
from flowmachine.core.server.query_schemas.aggregation_unit import AggregationUnitKind
from flowmachine.core.server.query_schemas.base_exposed_query import BaseExposedQuery
from flowmachine.core.server.query_schemas.base_schema import BaseSchema
from flowmachine.core.server.query_schemas.reference_location import ReferenceLocationSchema
from flowmachine.core.server.query_schemas.registry import TOP_LEVEL, register_kind
from flowmachine.core.server.query_schemas.unique_locations import UniqueLocationsSchema
from flowmachine.features.location.active_at_reference_location_counts import (
    ActiveAtReferenceLocationCounts,
)


def same_unit(data: dict[str, Any], a: str, b: str) -> None:
    """A schema-level check that nested queries `a` and `b` share an aggregation unit."""
    x, y = data.get(a), data.get(b)
    if x is not None and y is not None and x.aggregation_unit != y.aggregation_unit:
        raise ValidationError(f"{a} and {b} must have the same aggregation unit.", b)


class ActiveAtReferenceLocationCountsExposed(BaseExposedQuery):
    query_kind = "active_at_reference_location_counts"

    @property
    def aggregation_unit(self) -> str:
        return self.unique_locations.aggregation_unit

    @property
    def _flowmachine_query_obj(self) -> Query:
        return ActiveAtReferenceLocationCounts(
            self.unique_locations._flowmachine_query_obj,
            self.reference_locations._flowmachine_query_obj,
        )


@register_kind(TOP_LEVEL)
class ActiveAtReferenceLocationCountsSchema(BaseSchema):
    __model__ = ActiveAtReferenceLocationCountsExposed

    query_kind = fields.String(validate=validate.OneOf([__model__.query_kind]), required=True)
    unique_locations = fields.Nested(UniqueLocationsSchema, required=True)
    reference_locations = fields.Nested(ReferenceLocationSchema, required=True)
    aggregation_unit = AggregationUnitKind(dump_only=True)

    @validates_schema
    def _same_unit(self, data: dict[str, Any], **kwargs: Any) -> None:
        same_unit(data, "unique_locations", "reference_locations")
