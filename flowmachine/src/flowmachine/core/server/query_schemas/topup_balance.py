"""topup_balance: FlowMachine's `TopUpBalance`, a statistic per subscriber over `events.topups` only."""

from __future__ import annotations

from marshmallow import fields, validate

from flowmachine.core.query import Query
from flowmachine.core.server.query_schemas.base_query_with_sampling import (
    BaseExposedQueryWithSampling,
    BaseQueryWithSamplingSchema,
)
from flowmachine.core.server.query_schemas.field_mixins import (
    HoursField,
    StartAndEndField,
    StatisticField,
    SubscriberSubsetField,
)
from flowmachine.features.subscriber.topup_balance import TopUpBalance


class TopUpBalanceExposed(BaseExposedQueryWithSampling):
    query_kind = "topup_balance"

    @property
    def _unsampled_query_obj(self) -> Query:
        return TopUpBalance(
            self.start_date,
            self.end_date,
            statistic=self.statistic,
            hours=self.hours,
            subscriber_subset=self.subscriber_subset,
        )


class TopUpBalanceSchema(
    StartAndEndField, StatisticField, HoursField, SubscriberSubsetField, BaseQueryWithSamplingSchema
):
    __model__ = TopUpBalanceExposed

    query_kind = fields.String(validate=validate.OneOf([__model__.query_kind]), required=True)
