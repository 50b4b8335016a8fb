"""meaningful_locations_aggregate: meaningful locations carrying one label, per admin region (redacted on the
distinct subscribers behind each row). Also the fields the three meaningful_* kinds share."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from flowmachine.core.errors import InvalidSpecError
from flowmachine.core.query import Query
from flowmachine.core.server.query_schemas.aggregation_unit import (
    AggregationUnitMixin,
    get_spatial_unit_obj,
)
from flowmachine.core.server.query_schemas.base_exposed_query import BaseExposedQuery
from flowmachine.core.server.query_schemas.base_schema import BaseSchema
from flowmachine.core.server.query_schemas.field_mixins import (
    EventTypesField,
    StartAndEndField,
    SubscriberSubsetField,
)
from flowmachine.core.server.query_schemas.limits import MAX_CLUSTER_RADIUS_KM, AtMost
from flowmachine.core.server.query_schemas.registry import TOP_LEVEL, register_kind
from flowmachine.features.location.meaningful_locations import MeaningfulLocationsAggregate
from flowmachine.features.subscriber.meaningful_locations import DAYS_OF_WEEK, MeaningfulLocations
from flowmachine.features.utilities.label_shapes import UNKNOWN_LABEL, check_labels

SCORE = validate.Range(-1.0, 1.0)


class MeaningfulLocationsFields(
    AggregationUnitMixin, EventTypesField, SubscriberSubsetField, Schema
):
    """Labels, tower scores and clustering of the meaningful_* kinds (admin units only)."""

    labels = fields.Dict(keys=fields.String(), values=fields.Dict(), required=True)
    tower_hour_of_day_scores = fields.List(
        fields.Float(validate=SCORE), validate=validate.Length(24, 24), required=True
    )
    tower_day_of_week_scores = fields.Dict(
        keys=fields.String(), values=fields.Float(validate=SCORE), required=True
    )
    tower_cluster_radius = fields.Float(load_default=1.0, validate=AtMost(MAX_CLUSTER_RADIUS_KM))
    tower_cluster_call_threshold = fields.Integer(load_default=0)

    @validates_schema
    def _meaningful(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("aggregation_unit") == "lon-lat":
            raise ValidationError(
                "Meaningful locations need an admin aggregation unit.", "aggregation_unit"
            )
        days = data.get("tower_day_of_week_scores")
        if days is not None and set(days) != set(DAYS_OF_WEEK):
            raise ValidationError(
                "Needs a score for each of " + ", ".join(DAYS_OF_WEEK) + ".",
                "tower_day_of_week_scores",
            )
        radius = data.get("tower_cluster_radius")
        if radius is not None and not radius > 0:
            raise ValidationError("Must be greater than 0.", "tower_cluster_radius")
        if "labels" in data:
            try:
                check_labels(data["labels"])
            except InvalidSpecError as exc:
                raise ValidationError(str(exc), "labels") from None
        for name in ("label", "label_a", "label_b"):
            wanted = data.get(name)
            if (
                wanted is not None
                and wanted != UNKNOWN_LABEL
                and wanted not in data.get("labels", {})
            ):
                raise ValidationError(f"Must be one of the labels or {UNKNOWN_LABEL!r}.", name)


def meaningful_locations(exposed: Any, start: str, stop: str, label: str) -> MeaningfulLocations:
    return MeaningfulLocations(
        start=start,
        stop=stop,
        label=label,
        labels=exposed.labels,
        hour_scores=exposed.tower_hour_of_day_scores,
        day_scores=exposed.tower_day_of_week_scores,
        radius=exposed.tower_cluster_radius,
        call_threshold=exposed.tower_cluster_call_threshold,
        tables=exposed.event_types,
        subscriber_subset=exposed.subscriber_subset,
    )


class MeaningfulLocationsAggregateExposed(BaseExposedQuery):
    query_kind = "meaningful_locations_aggregate"

    @property
    def _flowmachine_query_obj(self) -> Query:
        return MeaningfulLocationsAggregate(
            meaningful_locations(self, self.start_date, self.end_date, self.label),
            get_spatial_unit_obj(self.aggregation_unit),
        )


@register_kind(TOP_LEVEL)
class MeaningfulLocationsAggregateSchema(StartAndEndField, MeaningfulLocationsFields, BaseSchema):
    __model__ = MeaningfulLocationsAggregateExposed

    query_kind = fields.String(validate=validate.OneOf([__model__.query_kind]), required=True)
    label = fields.String(required=True)
