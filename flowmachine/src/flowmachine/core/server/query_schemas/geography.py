"""geography: every location of an aggregation unit with its geometry (no subscriber data)."""

from __future__ import annotations

from marshmallow import fields, validate

from flowmachine.core.query import Query
from flowmachine.core.server.query_schemas.aggregation_unit import (
    AggregationUnitMixin,
    get_spatial_unit_obj,
)
from flowmachine.core.server.query_schemas.base_exposed_query import BaseExposedQuery
from flowmachine.core.server.query_schemas.base_schema import BaseSchema
from flowmachine.core.server.query_schemas.registry import TOP_LEVEL, register_kind
from flowmachine.features.location.geography import Geography


class GeographyExposed(BaseExposedQuery):
    query_kind = "geography"

    @property
    def _flowmachine_query_obj(self) -> Query:
        return Geography(get_spatial_unit_obj(self.aggregation_unit))


@register_kind(TOP_LEVEL)
class GeographySchema(AggregationUnitMixin, BaseSchema):
    __model__ = GeographyExposed

    query_kind = fields.String(validate=validate.OneOf([__model__.query_kind]), required=True)
