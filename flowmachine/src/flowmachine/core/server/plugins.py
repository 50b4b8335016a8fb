"""Query kinds from installed packages: entry points register schemas into the two registries at server start.

A package declares, in its metadata,

    [project.entry-points."flowmachine.query_kinds"]
    my_query = "my_package.schemas:MyQuerySchema"              # a top-level (aggregate, redacted) kind

    [project.entry-points."flowmachine.reference_location_kinds"]
    my_location = "my_package.schemas:MyLocationSchema"        # accepted wherever a reference location is

Each entry point names a query schema written as in the developer guide (a BaseSchema whose `__model__` is an
exposed query with a unique `query_kind`). No edit to FlowMachine is needed. Built-in kinds use the same group
names, with `query_schemas.registry.register_kind` on the schema class instead of an entry point.
"""

from __future__ import annotations

import logging
from importlib.metadata import entry_points

from marshmallow import Schema

from flowmachine.core.errors import FlowMachineError
from flowmachine.core.server.query_schemas.flowmachine_query import FlowmachineQuerySchema
from flowmachine.core.server.query_schemas.one_of_query import OneOfQuerySchema
from flowmachine.core.server.query_schemas.reference_location import ReferenceLocationSchema
from flowmachine.core.server.query_schemas.registry import REFERENCE_LOCATION, TOP_LEVEL

log = logging.getLogger(__name__)

REGISTRIES: dict[str, type[OneOfQuerySchema]] = {
    TOP_LEVEL: FlowmachineQuerySchema,
    REFERENCE_LOCATION: ReferenceLocationSchema,
}


def register_query_schema(registry: type[OneOfQuerySchema], schema: type[Schema]) -> None:
    """Add `schema` to `registry.query_schemas` (a no-op if it is there already)."""
    model = getattr(schema, "__model__", None)
    kind = getattr(model, "query_kind", None)
    if not isinstance(schema, type) or not issubclass(schema, Schema) or not kind:
        raise FlowMachineError(
            f"{schema!r} is not a query schema (a Schema whose __model__ has a query_kind)"
        )
    if schema in registry.all_query_schemas():
        return
    if kind in registry.schemas_by_kind():
        raise FlowMachineError(f"query kind {kind!r} is already registered in {registry.__name__}")
    registry.query_schemas = (*registry.query_schemas, schema)


def load_plugins() -> list[str]:
    """Register every query schema installed under our entry point groups; return their query kinds."""
    loaded = []
    for group, registry in REGISTRIES.items():
        for ep in entry_points(group=group):
            try:
                schema = ep.load()
                register_query_schema(registry, schema)
            except Exception as exc:
                raise FlowMachineError(
                    f"query kind plugin {ep.name!r} ({ep.value}) failed to load: {exc}"
                ) from exc
            kind = schema.__model__.query_kind
            log.info("query kind %r from plugin %s", kind, ep.value)
            loaded.append(kind)
    return loaded
