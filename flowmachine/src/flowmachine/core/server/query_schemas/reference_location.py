"""Reference locations (one location per subscriber), accepted wherever a spatial aggregate needs locations.

Location kinds register themselves with `@register_kind(REFERENCE_LOCATION)` (see `registry`).
"""

from __future__ import annotations

from marshmallow import Schema

from flowmachine.core.server.query_schemas.one_of_query import OneOfQuerySchema
from flowmachine.core.server.query_schemas.registry import REFERENCE_LOCATION
from flowmachine.core.server.query_schemas.unique_locations import UniqueLocationsSchema


class ReferenceLocationSchema(OneOfQuerySchema):
    registry_group = REFERENCE_LOCATION


class InputToFlowsSchema(OneOfQuerySchema):
    """Reference locations, and unique locations (flows then count subscriber-location pairs)."""

    @classmethod
    def schemas_by_kind(cls) -> dict[str, type[Schema]]:
        kinds = ReferenceLocationSchema.schemas_by_kind()
        kinds[UniqueLocationsSchema.__model__.query_kind] = UniqueLocationsSchema
        return kinds
