"""A schema that accepts any of several query kinds, chosen by the spec's `query_kind`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from marshmallow import Schema, ValidationError

from flowmachine.core.server.query_schemas.base_exposed_query import BaseExposedQuery
from flowmachine.core.server.query_schemas.registry import kind_of, registered_schemas


class OneOfQuerySchema(Schema):
    """Dispatches on `query_kind` to one of its schemas (each with a `__model__.query_kind`).

    Its schemas are those registered in `registry_group` (see `registry.register_kind`), then `query_schemas`
    (listed by hand, or added by a plugin).
    """

    query_schemas: ClassVar[tuple[type[Schema], ...]] = ()
    registry_group: ClassVar[str | None] = None

    @classmethod
    def all_query_schemas(cls) -> tuple[type[Schema], ...]:
        registered = registered_schemas(cls.registry_group) if cls.registry_group else ()
        return (*registered, *(s for s in cls.query_schemas if s not in registered))

    @classmethod
    def schemas_by_kind(cls) -> dict[str, type[Schema]]:
        return {kind_of(s): s for s in cls.all_query_schemas()}

    def load(
        self, data: Any, *, many: bool | None = None, partial: Any = None, unknown: Any = None
    ) -> Any:
        if not isinstance(data, Mapping):
            raise ValidationError({"_schema": ["Invalid input type."]})
        kinds = self.schemas_by_kind()
        kind = data.get("query_kind")
        if kind is None:
            raise ValidationError({"query_kind": ["Missing data for required field."]})
        if not isinstance(kind, str) or kind not in kinds:
            raise ValidationError({"query_kind": [f"Must be one of: {', '.join(sorted(kinds))}."]})
        return kinds[kind]().load(data)

    def dump(self, obj: BaseExposedQuery, *, many: bool | None = None) -> Any:
        return self.schemas_by_kind()[obj.query_kind]().dump(obj)
