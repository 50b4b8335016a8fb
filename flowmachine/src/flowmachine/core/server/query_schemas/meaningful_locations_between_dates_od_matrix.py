"""meaningful_locations_between_dates_od_matrix: each subscriber's `label` meaningful locations in period A
paired with those in period B, per pair of admin regions. Redacted on the distinct subscribers behind each
row (FlowKit leaves this kind unredacted)."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from flowmachine.core.dates import to_datetime
from flowmachine.core.query import Query
from flowmachine.core.server.query_schemas.aggregation_unit import get_spatial_unit_obj
from flowmachine.core.server.query_schemas.base_exposed_query import BaseExposedQuery
from flowmachine.core.server.query_schemas.base_schema import BaseSchema
from flowmachine.core.server.query_schemas.field_mixins import ISODateTime
from flowmachine.core.server.query_schemas.limits import check_span
from flowmachine.core.server.query_schemas.meaningful_locations_aggregate import (
    MeaningfulLocationsFields,
    meaningful_locations,
)
from flowmachine.core.server.query_schemas.registry import TOP_LEVEL, register_kind
from flowmachine.features.location.meaningful_locations import MeaningfulLocationsOD


class MeaningfulLocationsBetweenDatesODMatrixExposed(BaseExposedQuery):
    query_kind = "meaningful_locations_between_dates_od_matrix"

    @property
    def _flowmachine_query_obj(self) -> Query:
        return MeaningfulLocationsOD(
            meaningful_locations(self, self.start_date_a, self.end_date_a, self.label),
            meaningful_locations(self, self.start_date_b, self.end_date_b, self.label),
            get_spatial_unit_obj(self.aggregation_unit),
        )


@register_kind(TOP_LEVEL)
class MeaningfulLocationsBetweenDatesODMatrixSchema(MeaningfulLocationsFields, BaseSchema):
    __model__ = MeaningfulLocationsBetweenDatesODMatrixExposed

    query_kind = fields.String(validate=validate.OneOf([__model__.query_kind]), required=True)
    start_date_a = ISODateTime(required=True)
    end_date_a = ISODateTime(required=True)
    start_date_b = ISODateTime(required=True)
    end_date_b = ISODateTime(required=True)
    label = fields.String(required=True)

    @validates_schema
    def _periods(self, data: dict[str, Any], **kwargs: Any) -> None:
        for a, b in (("start_date_a", "end_date_a"), ("start_date_b", "end_date_b")):
            if a in data and b in data and to_datetime(data[b]) <= to_datetime(data[a]):
                raise ValidationError(f"Must be after {a}.", b)
            check_span(data, a, b)
