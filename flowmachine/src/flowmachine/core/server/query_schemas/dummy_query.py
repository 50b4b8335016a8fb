"""dummy_query: a query with no data, for testing the API (not redacted: it returns nothing)."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates

from flowmachine.core.query import Query
from flowmachine.core.server.query_schemas.aggregation_unit import AggregationUnitMixin
from flowmachine.core.server.query_schemas.base_exposed_query import BaseExposedQuery
from flowmachine.core.server.query_schemas.base_schema import BaseSchema
from flowmachine.core.server.query_schemas.registry import TOP_LEVEL, register_kind
from flowmachine.features.dummy_query import DummyQuery


class DummyQueryExposed(BaseExposedQuery):
    query_kind = "dummy_query"

    @property
    def _flowmachine_query_obj(self) -> Query:
        return DummyQuery(
            self.dummy_param, dummy_delay=self.dummy_delay, aggregation_unit=self.aggregation_unit
        )


@register_kind(TOP_LEVEL)
class DummyQuerySchema(AggregationUnitMixin, BaseSchema):
    __model__ = DummyQueryExposed

    query_kind = fields.String(validate=validate.OneOf([__model__.query_kind]), required=True)
    dummy_param = fields.String(required=True)
    dummy_delay = fields.Integer(load_default=0)

    @validates("dummy_delay")
    def _delay_in_range(self, value: int, **kwargs: Any) -> None:
        # checked here rather than with validate.Range, so the published schema stays FlowKit's
        if not 0 <= value <= 600:
            raise ValidationError("Must be between 0 and 600 seconds.")
