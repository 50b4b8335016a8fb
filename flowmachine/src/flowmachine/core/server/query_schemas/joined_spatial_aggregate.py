"""joined_spatial_aggregate: a statistic of a per-subscriber metric per reference location (redacted)."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from flowmachine.core.query import Query
from flowmachine.core.server.query_schemas.aggregation_unit import AggregationUnitKind
from flowmachine.core.server.query_schemas.base_exposed_query import BaseExposedQuery
from flowmachine.core.server.query_schemas.base_schema import BaseSchema
from flowmachine.core.server.query_schemas.metrics import (
    CATEGORICAL_METRICS,
    JoinableMetricsSchema,
)
from flowmachine.core.server.query_schemas.reference_location import ReferenceLocationSchema
from flowmachine.core.server.query_schemas.registry import TOP_LEVEL, register_kind
from flowmachine.core.statistic import STATISTICS
from flowmachine.features.location.joined_spatial_aggregate import METHODS, JoinedSpatialAggregate

# FlowKit 1.34's methods per kind of metric, in its order: any statistic of a numeric metric; the
# distribution or the most common value of a categorical one.
NUMERIC_METHODS = STATISTICS
CATEGORICAL_METHODS = ("distr", "mode")


class JoinedSpatialAggregateExposed(BaseExposedQuery):
    query_kind = "joined_spatial_aggregate"

    @property
    def aggregation_unit(self) -> str:
        return self.locations.aggregation_unit

    @property
    def _flowmachine_query_obj(self) -> Query:
        return JoinedSpatialAggregate(
            self.metric._flowmachine_query_obj,
            self.locations._flowmachine_query_obj,
            method=self.method,
        )


@register_kind(TOP_LEVEL)
class JoinedSpatialAggregateSchema(BaseSchema):
    __model__ = JoinedSpatialAggregateExposed

    query_kind = fields.String(validate=validate.OneOf([__model__.query_kind]), required=True)
    metric = fields.Nested(JoinableMetricsSchema, required=True)
    locations = fields.Nested(ReferenceLocationSchema, required=True)
    method = fields.String(required=True, validate=validate.OneOf(METHODS))
    aggregation_unit = AggregationUnitKind(dump_only=True)

    @validates_schema(skip_on_field_errors=True)
    def _method_suits_metric(self, data: dict[str, Any], **kwargs: Any) -> None:
        categorical = {s.__model__.query_kind for s in CATEGORICAL_METRICS}
        allowed = (
            CATEGORICAL_METHODS if data["metric"].query_kind in categorical else NUMERIC_METHODS
        )
        try:
            validate.OneOf(allowed)(data["method"])  # FlowKit's message: "Must be one of: ..."
        except ValidationError as exc:
            raise ValidationError(exc.messages, "method") from None
