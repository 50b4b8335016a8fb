"""The base of every query schema: unknown fields are errors, and a load gives the exposed query object."""

from __future__ import annotations

from typing import Any, ClassVar

from marshmallow import RAISE, Schema, post_load

from flowmachine.core.server.query_schemas.base_exposed_query import BaseExposedQuery


class BaseSchema(Schema):
    __model__: ClassVar[type[BaseExposedQuery]]

    class Meta:
        unknown = RAISE

    @post_load
    def make_query_object(self, params: dict[str, Any], **kwargs: Any) -> BaseExposedQuery:
        params.pop("query_kind", None)
        return self.__model__(**params)
