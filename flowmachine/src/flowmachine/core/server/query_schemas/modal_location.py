"""modal_location: each subscriber's most frequent location across several daily locations."""

from __future__ import annotations

from marshmallow import fields, validate

from flowmachine.core.query import Query
from flowmachine.core.server.query_schemas.aggregation_unit import AggregationUnitKind
from flowmachine.core.server.query_schemas.base_query_with_sampling import (
    BaseExposedQueryWithSampling,
    BaseQueryWithSamplingSchema,
)
from flowmachine.core.server.query_schemas.daily_location import DailyLocationSchema
from flowmachine.core.server.query_schemas.limits import MAX_LOCATIONS, AtMostItems
from flowmachine.core.server.query_schemas.one_of_query import OneOfQuerySchema
from flowmachine.core.server.query_schemas.registry import REFERENCE_LOCATION, register_kind
from flowmachine.features.subscriber.modal_location import ModalLocation


class InputToModalLocationSchema(OneOfQuerySchema):
    query_schemas = (DailyLocationSchema,)


class ModalLocationExposed(BaseExposedQueryWithSampling):
    query_kind = "modal_location"

    @property
    def aggregation_unit(self) -> str:
        return self.locations[0].aggregation_unit

    @property
    def _unsampled_query_obj(self) -> Query:
        return ModalLocation([loc._flowmachine_query_obj for loc in self.locations])


@register_kind(REFERENCE_LOCATION)
class ModalLocationSchema(BaseQueryWithSamplingSchema):
    __model__ = ModalLocationExposed

    query_kind = fields.String(validate=validate.OneOf([__model__.query_kind]), required=True)
    locations = fields.List(
        fields.Nested(InputToModalLocationSchema),
        required=True,
        validate=[validate.Length(min=1), AtMostItems(MAX_LOCATIONS)],
    )
    aggregation_unit = AggregationUnitKind(dump_only=True)
