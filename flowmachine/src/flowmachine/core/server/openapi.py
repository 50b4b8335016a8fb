"""The query schemas as OpenAPI components (what `get_query_schemas` returns and FlowAPI publishes).

apispec's MarshmallowPlugin converts each schema; a schema that chooses among query kinds (OneOfQuerySchema)
becomes `{"oneOf": [$ref, ...], "discriminator": {"propertyName": "query_kind", "mapping": {...}}}`, as FlowKit
publishes it. Components are named after the schema class without its `Schema` suffix, except the root, which
keeps FlowKit's name `FlowmachineQuerySchema`.
"""

from __future__ import annotations

import warnings
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin, OpenAPIConverter
from marshmallow import Schema

from flowmachine.core.server.query_schemas.field_mixins import ISODateTime
from flowmachine.core.server.query_schemas.flowmachine_query import FlowmachineQuerySchema
from flowmachine.core.server.query_schemas.one_of_query import OneOfQuerySchema

ROOT_SCHEMA_NAME = "FlowmachineQuerySchema"


class _OneOfAwareConverter(OpenAPIConverter):
    def schema2jsonschema(self, schema: Schema | type[Schema]) -> dict[str, Any]:
        schema_cls = schema if isinstance(schema, type) else type(schema)
        if not issubclass(schema_cls, OneOfQuerySchema):
            return super().schema2jsonschema(schema)
        refs, mapping = [], {}
        for kind, member in schema_cls.schemas_by_kind().items():
            ref = self.resolve_nested_schema(member)
            refs.append(ref)
            mapping[kind] = ref["$ref"]
        return {"oneOf": refs, "discriminator": {"propertyName": "query_kind", "mapping": mapping}}


class _Plugin(MarshmallowPlugin):
    Converter = _OneOfAwareConverter


def query_schemas_spec(
    root: type[FlowmachineQuerySchema] = FlowmachineQuerySchema,
) -> dict[str, Any]:
    """Every query schema reachable from `root` (FlowmachineQuerySchema, or the differential-privacy mode's
    root, `dp_schemas.root_schema`), as OpenAPI 3.0.1 components; the root keeps FlowKit's name."""
    plugin = _Plugin()
    spec = APISpec(
        title="FlowMachine query schemas",
        version="1.34",
        openapi_version="3.0.1",
        plugins=[plugin],
    )
    plugin.map_to_openapi_type(
        ISODateTime, "string", "date-time"
    )  # as FlowKit publishes its date fields
    with warnings.catch_warnings():
        # apispec warns when two distinct schema classes share a component name; the first one wins.
        warnings.simplefilter("ignore", UserWarning)
        spec.components.schema(ROOT_SCHEMA_NAME, schema=root)
    return spec.to_dict()["components"]["schemas"]
