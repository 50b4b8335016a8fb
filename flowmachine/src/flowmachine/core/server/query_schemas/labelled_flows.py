"""labelled_flows: flows between two coalesced locations per mobility label (redacted per OD pair)."""

from __future__ import annotations

from typing import Any

from marshmallow import fields, validate, validates_schema

from flowmachine.core.query import Query
from flowmachine.core.server.query_schemas.aggregation_unit import AggregationUnitKind
from flowmachine.core.server.query_schemas.base_exposed_query import BaseExposedQuery
from flowmachine.core.server.query_schemas.base_schema import BaseSchema
from flowmachine.core.server.query_schemas.coalesced_location import CoalescedLocationSchema
from flowmachine.core.server.query_schemas.location_visits import check_same_unit
from flowmachine.core.server.query_schemas.mobility_classification import (
    MobilityClassificationSchema,
)
from flowmachine.core.server.query_schemas.registry import TOP_LEVEL, register_kind
from flowmachine.features.location.flows import JOIN_TYPES
from flowmachine.features.location.labelled_spatial_aggregate import LabelledFlows


class LabelledFlowsExposed(BaseExposedQuery):
    query_kind = "labelled_flows"

    @property
    def aggregation_unit(self) -> str:
        return self.from_location.aggregation_unit

    @property
    def _flowmachine_query_obj(self) -> Query:
        return LabelledFlows(
            self.from_location._flowmachine_query_obj,
            self.to_location._flowmachine_query_obj,
            self.labels._flowmachine_query_obj,
            join_type=self.join_type,
        )


@register_kind(TOP_LEVEL)
class LabelledFlowsSchema(BaseSchema):
    __model__ = LabelledFlowsExposed

    query_kind = fields.String(validate=validate.OneOf([__model__.query_kind]), required=True)
    from_location = fields.Nested(CoalescedLocationSchema, required=True)
    to_location = fields.Nested(CoalescedLocationSchema, required=True)
    labels = fields.Nested(MobilityClassificationSchema, required=True)
    join_type = fields.String(validate=validate.OneOf(list(JOIN_TYPES)), load_default="inner")
    aggregation_unit = AggregationUnitKind(dump_only=True)

    @validates_schema
    def _same_unit(self, data: dict[str, Any], **kwargs: Any) -> None:
        names = ("from_location", "to_location")
        check_same_unit([data[n] for n in names if data.get(n) is not None], "to_location")
