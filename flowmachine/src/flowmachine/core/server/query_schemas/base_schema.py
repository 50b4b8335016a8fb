"""The base of every query schema: unknown fields are errors, and a load gives the exposed query object."""

from __future__ import annotations

from typing import Any, ClassVar

from marshmallow import RAISE, Schema, post_load

from flowmachine.core.server.query_schemas.base_exposed_query import BaseExposedQuery


class BaseSchema(Schema):
    __model__: ClassVar[type[BaseExposedQuery]]

    class Meta:
        unknown = RAISE

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A schema naming a `__model__` declares that exposed query's parameters (see BaseExposedQuery)."""
        super().__init_subclass__(**kwargs)
        model = cls.__dict__.get("__model__")
        if (
            isinstance(model, type)
            and issubclass(model, BaseExposedQuery)
            and "__schema__" not in model.__dict__
        ):
            model.__schema__ = cls

    @post_load
    def make_query_object(self, params: dict[str, Any], **kwargs: Any) -> BaseExposedQuery:
        params.pop("query_kind", None)
        return self.__model__(**params)
