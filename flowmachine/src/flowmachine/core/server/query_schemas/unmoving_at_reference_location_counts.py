"""unmoving_at_reference_location_counts: subscribers per reference location seen there and nowhere else
(redacted)."""

from __future__ import annotations

from typing import Any

from marshmallow import fields, validate, validates_schema

from flowmachine.core.query import Query
from flowmachine.core.server.query_schemas.active_at_reference_location_counts import same_unit
from flowmachine.core.server.query_schemas.aggregation_unit import AggregationUnitKind
from flowmachine.core.server.query_schemas.base_exposed_query import BaseExposedQuery
from flowmachine.core.server.query_schemas.base_schema import BaseSchema
from flowmachine.core.server.query_schemas.reference_location import ReferenceLocationSchema
from flowmachine.core.server.query_schemas.registry import TOP_LEVEL, register_kind
from flowmachine.core.server.query_schemas.unique_locations import UniqueLocationsSchema
from flowmachine.features.location.active_at_reference_location_counts import (
    UnmovingAtReferenceLocationCounts,
)


class UnmovingAtReferenceLocationCountsExposed(BaseExposedQuery):
    query_kind = "unmoving_at_reference_location_counts"

    @property
    def aggregation_unit(self) -> str:
        return self.locations.aggregation_unit

    @property
    def _flowmachine_query_obj(self) -> Query:
        return UnmovingAtReferenceLocationCounts(
            self.locations._flowmachine_query_obj,
            self.reference_locations._flowmachine_query_obj,
        )


@register_kind(TOP_LEVEL)
class UnmovingAtReferenceLocationCountsSchema(BaseSchema):
    __model__ = UnmovingAtReferenceLocationCountsExposed

    query_kind = fields.String(validate=validate.OneOf([__model__.query_kind]), required=True)
    locations = fields.Nested(UniqueLocationsSchema, required=True)
    reference_locations = fields.Nested(ReferenceLocationSchema, required=True)
    aggregation_unit = AggregationUnitKind(dump_only=True)

    @validates_schema
    def _same_unit(self, data: dict[str, Any], **kwargs: Any) -> None:
        same_unit(data, "locations", "reference_locations")
