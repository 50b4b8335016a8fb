"""Fields many query kinds share, as schema mixins (FlowKit's names)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from flowmachine.core.dates import to_datetime
from flowmachine.core.query import Query
from flowmachine.core.server.query_schemas.limits import (
    MAX_EVENT_TYPES,
    MAX_PERIODS,
    MAX_SPAN_DAYS,
    AtMost,
    AtMostItems,
    check_date_in_range,
    check_span,
)
from flowmachine.features.utilities.events_tables_union import EVENT_TYPES


class ISODateTime(fields.String):
    """An ISO date or date-time string (kept as given; parsed by the query), within the dates of `limits`."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            parsed = to_datetime(text)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
        check_date_in_range(parsed)
        return text


class StartAndEndField(Schema):
    start_date = ISODateTime(required=True)
    end_date = ISODateTime(required=True)

    @validates_schema
    def _start_before_end(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "start_date" in data and "end_date" in data:
            if to_datetime(data["end_date"]) <= to_datetime(data["start_date"]):
                raise ValidationError("Must be after start_date.", "end_date")
        check_span(data, "start_date", "end_date")


class HoursSchema(Schema):
    start_hour = fields.Integer(required=True, validate=validate.Range(0, 23))
    end_hour = fields.Integer(required=True, validate=validate.Range(0, 24))

    @validates_schema
    def _not_empty(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "start_hour" in data and "end_hour" in data:
            if data["start_hour"] == data["end_hour"] % 24 and (
                data["start_hour"],
                data["end_hour"],
            ) != (0, 24):
                raise ValidationError("start_hour and end_hour select no time of day.", "end_hour")

    @post_load
    def _as_tuple(self, data: dict[str, Any], **kwargs: Any) -> tuple[int, int]:
        return data["start_hour"], data["end_hour"]


class HoursField(Schema):
    hours = fields.Nested(HoursSchema, allow_none=True, load_default=None)


class EventTypesField(Schema):
    event_types = fields.List(
        fields.String(validate=validate.OneOf(EVENT_TYPES)),
        validate=[validate.Length(min=1), AtMostItems(MAX_EVENT_TYPES)],
        allow_none=True,
        load_default=None,
    )


_QUERY_ID_RESOLVER: ContextVar[Callable[[str], Query | None] | None] = ContextVar(
    "query_id_resolver", default=None
)


@contextmanager
def resolving_query_ids(resolve: Callable[[str], Query | None]) -> Iterator[None]:
    """Within the block, `SubscriberSubset` fields resolve query ids with `resolve` (in this thread or task)."""
    token = _QUERY_ID_RESOLVER.set(resolve)
    try:
        yield
    finally:
        _QUERY_ID_RESOLVER.reset(token)


class SubscriberSubset(fields.String):
    """The id of a query with a `subscriber` column, resolved to that query.

    Ids are resolved by the function given to `resolving_query_ids` around the load (the server looks ids up
    among the queries it knows); outside such a block, or for an unknown id, the value is refused.
    """

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Query:
        query_id = super()._deserialize(value, attr, data, **kwargs)
        resolve = _QUERY_ID_RESOLVER.get()
        query = resolve(query_id) if resolve is not None else None
        if query is None or "subscriber" not in query.column_names:
            raise ValidationError("Must be None or a valid query id.")
        return query

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else value.query_id


class SubscriberSubsetField(Schema):
    subscriber_subset = SubscriberSubset(allow_none=True, load_default=None)


class DirectionField(Schema):
    direction = fields.String(validate=validate.OneOf(["in", "out", "both"]), load_default="both")


_MINUTES = {"days": 24 * 60, "hours": 60, "minutes": 1}


class PeriodsField(Schema):
    """`total_periods` consecutive periods of `period_length` `period_unit`s from `start_date` (at most
    MAX_PERIODS periods, spanning at most MAX_SPAN_DAYS days)."""

    start_date = ISODateTime(required=True)
    total_periods = fields.Integer(
        required=True, validate=[validate.Range(min=1), AtMost(MAX_PERIODS)]
    )
    period_length = fields.Integer(load_default=1, validate=validate.Range(min=1))
    period_unit = fields.String(validate=validate.OneOf(list(_MINUTES)), load_default="days")

    @validates_schema(skip_on_field_errors=True)
    def _bounded_span(self, data: dict[str, Any], **kwargs: Any) -> None:
        minutes = data["total_periods"] * data["period_length"] * _MINUTES[data["period_unit"]]
        if minutes > MAX_SPAN_DAYS * _MINUTES["days"]:
            raise ValidationError(
                f"total_periods × period_length may span at most {MAX_SPAN_DAYS} days.",
                "period_length",
            )


class StatisticField(Schema):
    """`statistic`: one of FlowKit's Statistic names (count, sum, avg, max, min, median, stddev, ...)."""

    statistic = fields.String(
        required=True,
        validate=validate.OneOf(
            ["count", "sum", "avg", "max", "min", "median", "stddev", "variance", "mode"]
        ),
    )
