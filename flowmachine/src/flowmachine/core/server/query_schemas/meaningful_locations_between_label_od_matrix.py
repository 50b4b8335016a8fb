"""meaningful_locations_between_label_od_matrix: each subscriber's `label_a` meaningful locations paired with
their `label_b` ones, per pair of admin regions (redacted on the distinct subscribers behind each row)."""

from __future__ import annotations

from marshmallow import fields, validate

from flowmachine.core.server.query_schemas.aggregation_unit import get_spatial_unit_obj
from flowmachine.core.server.query_schemas.base_exposed_query import BaseExposedQuery
from flowmachine.core.server.query_schemas.base_schema import BaseSchema
from flowmachine.core.server.query_schemas.field_mixins import StartAndEndField
from flowmachine.core.server.query_schemas.meaningful_locations_aggregate import (
    MeaningfulLocationsFields,
    meaningful_locations,
)
from flowmachine.features.location.meaningful_locations import MeaningfulLocationsOD


class MeaningfulLocationsBetweenLabelODMatrixExposed(BaseExposedQuery):
    query_kind = "meaningful_locations_between_label_od_matrix"

    def __init__(
        self,
        *,
        start_date,
        end_date,
        label_a,
        label_b,
        labels,
        tower_hour_of_day_scores,
        tower_day_of_week_scores,
        aggregation_unit,
        tower_cluster_radius=1.0,
        tower_cluster_call_threshold=0,
        event_types=None,
        subscriber_subset=None,
        mapping_table=None,
        geom_table=None,
        geom_table_join_column=None,
    ):
        self.start_date = start_date
        self.end_date = end_date
        self.label_a = label_a
        self.label_b = label_b
        self.labels = labels
        self.tower_hour_of_day_scores = tower_hour_of_day_scores
        self.tower_day_of_week_scores = tower_day_of_week_scores
        self.aggregation_unit = aggregation_unit
        self.tower_cluster_radius = tower_cluster_radius
        self.tower_cluster_call_threshold = tower_cluster_call_threshold
        self.event_types = event_types
        self.subscriber_subset = subscriber_subset
        self.mapping_table = mapping_table
        self.geom_table = geom_table
        self.geom_table_join_column = geom_table_join_column

    @property
    def _flowmachine_query_obj(self):
        return MeaningfulLocationsOD(
            meaningful_locations(self, self.start_date, self.end_date, self.label_a),
            meaningful_locations(self, self.start_date, self.end_date, self.label_b),
            get_spatial_unit_obj(self.aggregation_unit),
        )


class MeaningfulLocationsBetweenLabelODMatrixSchema(
    StartAndEndField, MeaningfulLocationsFields, BaseSchema
):
    __model__ = MeaningfulLocationsBetweenLabelODMatrixExposed

    query_kind = fields.String(validate=validate.OneOf([__model__.query_kind]), required=True)
    label_a = fields.String(required=True)
    label_b = fields.String(required=True)
