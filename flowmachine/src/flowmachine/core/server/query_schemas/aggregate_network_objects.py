"""aggregate_network_objects: a statistic of network-object totals per coarser period."""

from __future__ import annotations

from marshmallow import fields, validate

from flowmachine.core.query import Query
from flowmachine.core.server.query_schemas.aggregation_unit import AggregationUnitKind
from flowmachine.core.server.query_schemas.base_exposed_query import BaseExposedQuery
from flowmachine.core.server.query_schemas.base_schema import BaseSchema
from flowmachine.core.server.query_schemas.registry import TOP_LEVEL, register_kind
from flowmachine.core.server.query_schemas.total_network_objects import TotalNetworkObjectsSchema
from flowmachine.core.statistic import STATISTICS
from flowmachine.features.location.total_network_objects import (
    AGGREGATE_BY,
    AggregateNetworkObjects,
)


class AggregateNetworkObjectsExposed(BaseExposedQuery):
    query_kind = "aggregate_network_objects"

    @property
    def aggregation_unit(self) -> str:
        return self.total_network_objects.aggregation_unit

    @property
    def _flowmachine_query_obj(self) -> Query:
        return AggregateNetworkObjects(
            self.total_network_objects._flowmachine_query_obj,
            statistic=self.statistic,
            aggregate_by=self.aggregate_by,
        )


@register_kind(TOP_LEVEL)
class AggregateNetworkObjectsSchema(BaseSchema):
    __model__ = AggregateNetworkObjectsExposed

    query_kind = fields.String(validate=validate.OneOf([__model__.query_kind]), required=True)
    total_network_objects = fields.Nested(TotalNetworkObjectsSchema, required=True)
    statistic = fields.String(required=True, validate=validate.OneOf(STATISTICS))
    aggregate_by = fields.String(required=True, validate=validate.OneOf(AGGREGATE_BY))
    aggregation_unit = AggregationUnitKind(dump_only=True)
