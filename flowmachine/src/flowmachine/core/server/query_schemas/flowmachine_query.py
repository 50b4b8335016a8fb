"""The API's root schema: every top-level (aggregate, redacted) query kind, chosen by `query_kind`.

Its kinds are those registered with `@register_kind(TOP_LEVEL)` (see `registry`), then any a plugin or a test
adds to `FlowmachineQuerySchema.query_schemas`.
"""

from __future__ import annotations

from typing import Any

from flowmachine.core.server.query_schemas.limits import check_spec_size
from flowmachine.core.server.query_schemas.one_of_query import OneOfQuerySchema
from flowmachine.core.server.query_schemas.registry import TOP_LEVEL


class FlowmachineQuerySchema(OneOfQuerySchema):
    """Also bounds the whole spec (`limits.check_spec_size`) before any of it is loaded."""

    registry_group = TOP_LEVEL

    def load(self, data: Any, **kwargs: Any) -> Any:
        check_spec_size(data)
        return super().load(data, **kwargs)
