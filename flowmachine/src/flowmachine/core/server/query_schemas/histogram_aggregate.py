"""histogram_aggregate: subscribers per bin of a metric; bins resting on 15 or fewer are suppressed."""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from flowmachine.core.query import Query
from flowmachine.core.server.query_schemas.base_exposed_query import BaseExposedQuery
from flowmachine.core.server.query_schemas.base_schema import BaseSchema
from flowmachine.core.server.query_schemas.limits import (
    MAX_BIN_EDGES,
    MAX_BINS,
    AtMost,
    AtMostItems,
)
from flowmachine.core.server.query_schemas.metrics import HistogrammableMetricsSchema
from flowmachine.core.server.query_schemas.registry import TOP_LEVEL, register_kind
from flowmachine.features.nonspatial_aggregates.histogram_aggregation import HistogramAggregation


class HistogramBinsSchema(Schema):
    class Meta:
        unknown = RAISE

    n_bins = fields.Integer(validate=[validate.Range(min=1), AtMost(MAX_BINS)])
    bin_list = fields.List(
        fields.Float(allow_nan=False),
        validate=[validate.Length(min=2), AtMostItems(MAX_BIN_EDGES)],
    )

    @validates_schema
    def _one_of(self, data: dict[str, Any], **kwargs: Any) -> None:
        if ("n_bins" in data) == ("bin_list" in data):
            raise ValidationError("Give exactly one of n_bins and bin_list.")
        edges = data.get("bin_list")
        if edges is not None and any(b <= a for a, b in zip(edges, edges[1:], strict=False)):
            raise ValidationError("Bin edges must increase.", "bin_list")


class BoundsSchema(Schema):
    class Meta:
        unknown = RAISE

    lower_bound = fields.Float(required=True, allow_nan=False)
    upper_bound = fields.Float(required=True, allow_nan=False)

    @validates_schema
    def _ordered(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("lower_bound", 0) >= data.get("upper_bound", 1):
            raise ValidationError("Must be greater than lower_bound.", "upper_bound")


class HistogramAggregateExposed(BaseExposedQuery):
    query_kind = "histogram_aggregate"

    @property
    def _flowmachine_query_obj(self) -> Query:
        bins = self.bins.get("n_bins", self.bins.get("bin_list"))
        bounds = (
            None if self.range is None else (self.range["lower_bound"], self.range["upper_bound"])
        )
        return HistogramAggregation(self.metric._flowmachine_query_obj, bins=bins, range=bounds)


@register_kind(TOP_LEVEL)
class HistogramAggregateSchema(BaseSchema):
    __model__ = HistogramAggregateExposed

    query_kind = fields.String(validate=validate.OneOf([__model__.query_kind]), required=True)
    metric = fields.Nested(HistogrammableMetricsSchema, required=True)
    bins = fields.Nested(HistogramBinsSchema, required=True)
    range = fields.Nested(BoundsSchema)

    @validates_schema
    def _range_with_counts_only(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("range") is not None and "bin_list" in (data.get("bins") or {}):
            raise ValidationError("Give either bin_list or range, not both.", "range")
