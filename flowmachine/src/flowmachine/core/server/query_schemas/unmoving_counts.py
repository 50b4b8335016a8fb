"""unmoving_counts: subscribers per location who were seen at that location only (redacted)."""

from __future__ import annotations

from marshmallow import fields, validate

from flowmachine.core.query import Query
from flowmachine.core.server.query_schemas.aggregation_unit import AggregationUnitKind
from flowmachine.core.server.query_schemas.base_exposed_query import BaseExposedQuery
from flowmachine.core.server.query_schemas.base_schema import BaseSchema
from flowmachine.core.server.query_schemas.registry import TOP_LEVEL, register_kind
from flowmachine.core.server.query_schemas.unique_locations import UniqueLocationsSchema
from flowmachine.features.location.active_at_reference_location_counts import UnmovingCounts


class UnmovingCountsExposed(BaseExposedQuery):
    query_kind = "unmoving_counts"

    @property
    def aggregation_unit(self) -> str:
        return self.locations.aggregation_unit

    @property
    def _flowmachine_query_obj(self) -> Query:
        return UnmovingCounts(self.locations._flowmachine_query_obj)


@register_kind(TOP_LEVEL)
class UnmovingCountsSchema(BaseSchema):
    __model__ = UnmovingCountsExposed

    query_kind = fields.String(validate=validate.OneOf([__model__.query_kind]), required=True)
    locations = fields.Nested(UniqueLocationsSchema, required=True)
    aggregation_unit = AggregationUnitKind(dump_only=True)
