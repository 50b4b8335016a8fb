"""Builders of aggregate (top-level) query specs, and `APIQuery` makers for them.

Each top-level kind of `flowclient.kinds` comes in two forms here: `<kind>_spec(**params)` returns the spec dict,
and `<kind>(connection=..., **params)` returns an `APIQuery` (or `ASyncAPIQuery` on an `ASyncConnection`) for it,
not yet run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flowclient._spec_builders import Spec, query_makers, spec_builders
from flowclient.api_query import APIQuery as APIQuery
from flowclient.kinds import KINDS
from flowclient.kinds import hours_spec as hours_spec

SPEC_BUILDERS: dict[str, Callable[..., Spec]] = spec_builders(
    KINDS, top_level=True, module=__name__
)
"""`{"flows_spec": flows_spec, ...}`: this module's spec builders, from the table."""

QUERY_MAKERS: dict[str, Callable[..., Any]] = query_makers(KINDS, SPEC_BUILDERS, __name__)
"""`{"flows": flows, ...}`: this module's APIQuery makers, from the table."""

globals().update(SPEC_BUILDERS)
globals().update(QUERY_MAKERS)
