"""The `aggregation_unit` field and what the API's units mean as FlowMachine spatial units."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from flowmachine.core.spatial_unit import SpatialUnit, make_spatial_unit

AGGREGATION_UNITS = ("admin0", "admin1", "admin2", "admin3", "lon-lat")


class AggregationUnitKind(fields.String):
    """One of admin0..admin3, lon-lat."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(validate=validate.OneOf(AGGREGATION_UNITS), **kwargs)


def get_spatial_unit_obj(aggregation_unit: str) -> SpatialUnit:
    return make_spatial_unit(aggregation_unit)


class AggregationUnitMixin(Schema):
    """`aggregation_unit`, plus FlowKit's custom-geometry fields (accepted in the schema; only null works yet)."""

    aggregation_unit = AggregationUnitKind(required=True)
    mapping_table = fields.String(allow_none=True, load_default=None)
    geom_table = fields.String(allow_none=True, load_default=None)
    geom_table_join_column = fields.String(allow_none=True, load_default=None)

    @validates_schema
    def _no_custom_geometry(self, data: dict[str, Any], **kwargs: Any) -> None:
        for name in ("mapping_table", "geom_table", "geom_table_join_column"):
            if data.get(name) is not None:
                raise ValidationError("Custom mapping and geometry tables are not supported.", name)
