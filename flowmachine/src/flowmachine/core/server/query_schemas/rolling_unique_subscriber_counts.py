"""rolling_unique_subscriber_counts (ours, not FlowKit's): distinct subscribers per location in a trailing window
of `window_days` days, for every day of the range whose window lies inside it, in one pass (redacted per row).

A kind of its own rather than an option of unique_subscriber_counts: its rows carry a `date` column (a kind's
output columns stay fixed), a token grants it separately (a daily series says more than one count), and a
server in differential-privacy mode refuses it like any kind it does not release, instead of a count kind
silently ignoring an option its noisy release does not implement (docs/flowmachine.md).
"""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from flowmachine.core.dates import to_datetime
from flowmachine.core.query import Query
from flowmachine.core.server.query_schemas.aggregation_unit import (
    AggregationUnitMixin,
    get_spatial_unit_obj,
)
from flowmachine.core.server.query_schemas.base_exposed_query import BaseExposedQuery
from flowmachine.core.server.query_schemas.base_schema import BaseSchema
from flowmachine.core.server.query_schemas.field_mixins import (
    EventTypesField,
    HoursField,
    StartAndEndField,
    SubscriberSubsetField,
)
from flowmachine.core.server.query_schemas.registry import TOP_LEVEL, register_kind
from flowmachine.features.location.rolling_unique_subscriber_counts import (
    DEFAULT_WINDOW_DAYS,
    MAX_WINDOW_DAYS,
    RollingUniqueSubscriberCounts,
)


class RollingUniqueSubscriberCountsExposed(BaseExposedQuery):
    query_kind = "rolling_unique_subscriber_counts"

    @property
    def _flowmachine_query_obj(self) -> Query:
        return RollingUniqueSubscriberCounts(
            self.start_date,
            self.end_date,
            get_spatial_unit_obj(self.aggregation_unit),
            window=self.window_days,
            hours=self.hours,
            tables=self.event_types,
            subscriber_subset=self.subscriber_subset,
        )


@register_kind(TOP_LEVEL)
class RollingUniqueSubscriberCountsSchema(
    StartAndEndField,
    AggregationUnitMixin,
    EventTypesField,
    HoursField,
    SubscriberSubsetField,
    BaseSchema,
):
    __model__ = RollingUniqueSubscriberCountsExposed

    query_kind = fields.String(validate=validate.OneOf([__model__.query_kind]), required=True)
    window_days = fields.Integer(
        load_default=DEFAULT_WINDOW_DAYS,
        validate=validate.Range(1, MAX_WINDOW_DAYS),
        metadata={
            "description": "Length of each trailing window in days. One row per location and day from "
            "start_date + window_days - 1 to the day before end_date, counting the distinct subscribers "
            "seen in the window_days days ending on that day (start_date and end_date are dates)."
        },
    )

    @validates_schema
    def _whole_windows(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "start_date" not in data or "end_date" not in data or "window_days" not in data:
            return  # reported by the fields themselves
        start, end = to_datetime(data["start_date"]), to_datetime(data["end_date"])
        for name, value in (("start_date", start), ("end_date", end)):
            if value.hour or value.minute or value.second or value.microsecond:
                raise ValidationError("Must be a date: rolling windows are whole days.", name)
        if (end - start).days < data["window_days"]:
            raise ValidationError(
                "The range from start_date to end_date must hold at least one window of window_days days.",
                "end_date",
            )
