"""location_visits: in how many of several daily or modal locations each subscriber was at each location."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from flowmachine.core.query import Query
from flowmachine.core.server.query_schemas.base_exposed_query import BaseExposedQuery
from flowmachine.core.server.query_schemas.base_query_with_sampling import (
    BaseExposedQueryWithSampling,
    BaseQueryWithSamplingSchema,
)
from flowmachine.core.server.query_schemas.daily_location import DailyLocationSchema
from flowmachine.core.server.query_schemas.limits import MAX_LOCATIONS, AtMostItems
from flowmachine.core.server.query_schemas.modal_location import ModalLocationSchema
from flowmachine.core.server.query_schemas.one_of_query import OneOfQuerySchema
from flowmachine.features.subscriber.location_visits import LocationVisits


def check_same_unit(queries: Iterable[BaseExposedQuery], field: str) -> None:
    """A ValidationError on `field` unless the exposed `queries` share one aggregation unit."""
    if len({q.aggregation_unit for q in queries}) > 1:
        raise ValidationError("All locations must have the same aggregation unit.", field)


class VisitableLocationSchema(OneOfQuerySchema):
    query_schemas = (DailyLocationSchema, ModalLocationSchema)


class LocationVisitsExposed(BaseExposedQueryWithSampling):
    query_kind = "location_visits"

    @property
    def aggregation_unit(self) -> str:
        return self.locations[0].aggregation_unit

    @property
    def _unsampled_query_obj(self) -> Query:
        return LocationVisits([loc._flowmachine_query_obj for loc in self.locations])


class LocationVisitsSchema(BaseQueryWithSamplingSchema):
    __model__ = LocationVisitsExposed

    query_kind = fields.String(validate=validate.OneOf([__model__.query_kind]), required=True)
    locations = fields.List(
        fields.Nested(VisitableLocationSchema),
        required=True,
        validate=[validate.Length(min=1), AtMostItems(MAX_LOCATIONS)],
    )

    @validates_schema
    def _same_unit(self, data: dict[str, Any], **kwargs: Any) -> None:
        check_same_unit(data.get("locations") or [], "locations")
