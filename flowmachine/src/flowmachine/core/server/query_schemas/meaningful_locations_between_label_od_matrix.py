"""meaningful_locations_between_label_od_matrix: each subscriber's `label_a` meaningful locations paired with
their `label_b` ones, per pair of admin regions (redacted on the distinct subscribers behind each row)."""

from __future__ import annotations

from marshmallow import fields, validate

from flowmachine.core.query import Query
from flowmachine.core.server.query_schemas.aggregation_unit import get_spatial_unit_obj
from flowmachine.core.server.query_schemas.base_exposed_query import BaseExposedQuery
from flowmachine.core.server.query_schemas.base_schema import BaseSchema
from flowmachine.core.server.query_schemas.field_mixins import StartAndEndField
from flowmachine.core.server.query_schemas.meaningful_locations_aggregate import (
    MeaningfulLocationsFields,
    meaningful_locations,
)
from flowmachine.core.server.query_schemas.registry import TOP_LEVEL, register_kind
from flowmachine.features.location.meaningful_locations import MeaningfulLocationsOD


class MeaningfulLocationsBetweenLabelODMatrixExposed(BaseExposedQuery):
    query_kind = "meaningful_locations_between_label_od_matrix"

    @property
    def _flowmachine_query_obj(self) -> Query:
        return MeaningfulLocationsOD(
            meaningful_locations(self, self.start_date, self.end_date, self.label_a),
            meaningful_locations(self, self.start_date, self.end_date, self.label_b),
            get_spatial_unit_obj(self.aggregation_unit),
        )


@register_kind(TOP_LEVEL)
class MeaningfulLocationsBetweenLabelODMatrixSchema(
    StartAndEndField, MeaningfulLocationsFields, BaseSchema
):
    __model__ = MeaningfulLocationsBetweenLabelODMatrixExposed

    query_kind = fields.String(validate=validate.OneOf([__model__.query_kind]), required=True)
    label_a = fields.String(required=True)
    label_b = fields.String(required=True)
