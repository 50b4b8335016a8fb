"""pareto_interactions: FlowMachine's `ParetoInteractions` (proportion strictly between 0 and 1)."""

from __future__ import annotations

from marshmallow import fields, validate

from flowmachine.core.query import Query
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
from flowmachine.features.subscriber.pareto_interactions import ParetoInteractions


class ParetoInteractionsExposed(BaseExposedQueryWithSampling):
    query_kind = "pareto_interactions"

    @property
    def _unsampled_query_obj(self) -> Query:
        return ParetoInteractions(
            self.start_date,
            self.end_date,
            proportion=self.proportion,
            hours=self.hours,
            tables=self.event_types,
            subscriber_subset=self.subscriber_subset,
        )


class ParetoInteractionsSchema(
    StartAndEndField,
    EventTypesField,
    HoursField,
    SubscriberSubsetField,
    BaseQueryWithSamplingSchema,
):
    __model__ = ParetoInteractionsExposed

    query_kind = fields.String(validate=validate.OneOf([__model__.query_kind]), required=True)
    proportion = fields.Float(
        required=True,
        allow_nan=False,
        validate=validate.Range(0, 1, min_inclusive=False, max_inclusive=False),
    )
