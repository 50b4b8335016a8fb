"""A schema that accepts any of several query kinds, chosen by the spec's `query_kind`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from marshmallow import Schema, ValidationError

from flowmachine.core.server.query_schemas.base_exposed_query import BaseExposedQuery


class OneOfQuerySchema(Schema):
    """Dispatches on `query_kind` to one of `query_schemas` (each with a `__model__.query_kind`)."""

    query_schemas: ClassVar[tuple[type[Schema], ...]] = ()

    @classmethod
    def schemas_by_kind(cls) -> dict[str, type[Schema]]:
        return {s.__model__.query_kind: s for s in cls.query_schemas}

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
