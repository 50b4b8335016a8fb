"""Exposed queries whose results can be randomly sampled (individual-level kinds), and the `sampling` field."""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from flowmachine.core.query import Query
from flowmachine.core.random_sample import RandomSample
from flowmachine.core.server.query_schemas.base_exposed_query import BaseExposedQuery
from flowmachine.core.server.query_schemas.base_schema import BaseSchema
from flowmachine.core.server.query_schemas.limits import MAX_SAMPLE_SIZE, AtMost


class RandomSampleSchema(Schema):
    """`{sampling_method, seed, size | fraction, estimate_count}`; loads to a dict of RandomSample arguments."""

    sampling_method = fields.String(
        required=True, validate=validate.OneOf(["system", "bernoulli", "random_ids"])
    )
    seed = fields.Float(required=True)
    size = fields.Integer(
        allow_none=True,
        load_default=None,
        validate=[validate.Range(min=1), AtMost(MAX_SAMPLE_SIZE)],
    )
    fraction = fields.Float(
        allow_none=True,
        load_default=None,
        validate=validate.Range(0, 1, min_inclusive=False, max_inclusive=False),
    )
    estimate_count = fields.Boolean(load_default=True)

    @validates_schema
    def _size_or_fraction(self, data: dict[str, Any], **kwargs: Any) -> None:
        if (data.get("size") is None) == (data.get("fraction") is None):
            raise ValidationError("Give exactly one of size and fraction.", "size")
        if data.get("sampling_method") == "random_ids" and not -1 <= data.get("seed", 0) <= 1:
            raise ValidationError("Must be between -1 and 1 for random_ids.", "seed")


class BaseQueryWithSamplingSchema(BaseSchema):
    sampling = fields.Nested(RandomSampleSchema, allow_none=True, load_default=None)


class BaseExposedQueryWithSampling(BaseExposedQuery):
    """`_flowmachine_query_obj` is `_unsampled_query_obj`, sampled when `sampling` is given."""

    sampling: dict[str, Any] | None

    @property
    @abstractmethod
    def _unsampled_query_obj(self) -> Query:
        """The query before sampling."""

    @property
    def _flowmachine_query_obj(self) -> Query:
        query = self._unsampled_query_obj
        sampling = getattr(self, "sampling", None)
        if not sampling:
            return query
        return RandomSample(query, **sampling)
