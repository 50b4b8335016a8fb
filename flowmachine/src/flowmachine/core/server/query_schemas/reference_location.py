"""Reference locations (one location per subscriber), accepted wherever a spatial aggregate needs locations."""

from __future__ import annotations

from flowmachine.core.server.query_schemas.coalesced_location import CoalescedLocationSchema
from flowmachine.core.server.query_schemas.daily_location import DailyLocationSchema
from flowmachine.core.server.query_schemas.majority_location import MajorityLocationSchema
from flowmachine.core.server.query_schemas.modal_location import ModalLocationSchema
from flowmachine.core.server.query_schemas.most_frequent_location import (
    MostFrequentLocationSchema,
)
from flowmachine.core.server.query_schemas.one_of_query import OneOfQuerySchema
from flowmachine.core.server.query_schemas.unique_locations import UniqueLocationsSchema
from flowmachine.core.server.query_schemas.visited_most_days import VisitedMostDaysSchema


class ReferenceLocationSchema(OneOfQuerySchema):
    query_schemas = (
        DailyLocationSchema,
        ModalLocationSchema,
        MostFrequentLocationSchema,
        VisitedMostDaysSchema,
        MajorityLocationSchema,
        CoalescedLocationSchema,
    )


class InputToFlowsSchema(OneOfQuerySchema):
    """Reference locations, and unique locations (flows then count subscriber-location pairs)."""

    @classmethod
    def schemas_by_kind(cls):
        kinds = ReferenceLocationSchema.schemas_by_kind()
        kinds[UniqueLocationsSchema.__model__.query_kind] = UniqueLocationsSchema
        return kinds
