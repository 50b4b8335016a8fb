"""dfs_metric_total_amount: the daily total of a mobile-money metric per location (redacted)."""

from __future__ import annotations

from marshmallow import fields, validate

from flowmachine.core.query import Query
from flowmachine.core.server.query_schemas.aggregation_unit import (
    AggregationUnitKind,
    get_spatial_unit_obj,
)
from flowmachine.core.server.query_schemas.base_exposed_query import BaseExposedQuery
from flowmachine.core.server.query_schemas.base_schema import BaseSchema
from flowmachine.core.server.query_schemas.field_mixins import StartAndEndField
from flowmachine.core.server.query_schemas.registry import TOP_LEVEL, register_kind
from flowmachine.features.dfs.total_amount_for_metric import DFS_METRICS, DFSTotalMetricAmount


class DFSTotalMetricAmountExposed(BaseExposedQuery):
    query_kind = "dfs_metric_total_amount"

    @property
    def _flowmachine_query_obj(self) -> Query:
        return DFSTotalMetricAmount(
            metric=self.metric,
            start_date=self.start_date,
            end_date=self.end_date,
            spatial_unit=get_spatial_unit_obj(self.aggregation_unit),
        )


@register_kind(TOP_LEVEL)
class DFSTotalMetricAmountSchema(StartAndEndField, BaseSchema):
    __model__ = DFSTotalMetricAmountExposed

    query_kind = fields.String(validate=validate.OneOf([__model__.query_kind]), required=True)
    metric = fields.String(validate=validate.OneOf(DFS_METRICS), required=True)
    aggregation_unit = AggregationUnitKind(required=True)
