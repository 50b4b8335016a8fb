"""unique_locations: FlowMachine's `UniqueLocations` over a window of events, at an aggregation unit."""

from __future__ import annotations

from marshmallow import fields, validate

from flowmachine.core.server.query_schemas.aggregation_unit import (
    AggregationUnitMixin,
    get_spatial_unit_obj,
)
from flowmachine.core.server.query_schemas.base_query_with_sampling import (
    BaseExposedQueryWithSampling,
    BaseQueryWithSamplingSchema,
)
from flowmachine.core.server.query_schemas.field_mixins import (
    EventTypesField,
    HoursField,
    StartAndEndField,
    SubscriberSubsetField,
)
from flowmachine.features.subscriber.unique_locations import UniqueLocations


class UniqueLocationsExposed(BaseExposedQueryWithSampling):
    query_kind = "unique_locations"

    def __init__(
        self,
        *,
        start_date,
        end_date,
        aggregation_unit,
        event_types=None,
        subscriber_subset=None,
        hours=None,
        sampling=None,
        mapping_table=None,
        geom_table=None,
        geom_table_join_column=None,
    ):
        self.start_date = start_date
        self.end_date = end_date
        self.aggregation_unit = aggregation_unit
        self.event_types = event_types
        self.subscriber_subset = subscriber_subset
        self.hours = hours
        self.sampling = sampling
        self.mapping_table = mapping_table
        self.geom_table = geom_table
        self.geom_table_join_column = geom_table_join_column

    @property
    def _unsampled_query_obj(self):
        return UniqueLocations(
            self.start_date,
            self.end_date,
            get_spatial_unit_obj(self.aggregation_unit),
            hours=self.hours,
            tables=self.event_types,
            subscriber_subset=self.subscriber_subset,
        )


class UniqueLocationsSchema(
    StartAndEndField,
    AggregationUnitMixin,
    EventTypesField,
    HoursField,
    SubscriberSubsetField,
    BaseQueryWithSamplingSchema,
):
    __model__ = UniqueLocationsExposed

    query_kind = fields.String(validate=validate.OneOf([__model__.query_kind]), required=True)
