"""Builders of query specs for individual-level (nested) queries, one per nested kind of `flowclient.kinds`.

These specs are not results on their own: nest them inside an aggregate (see `flowclient.aggregates`), e.g.
`spatial_aggregate_spec(locations=daily_location_spec(...))`. Every builder returns a plain dict; keys left at
None are sent as null and the server applies its defaults.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any  # noqa: F401  (flowclient 1.34 has flowclient.query_specs.Any)

import pandas as pd  # noqa: F401  (flowclient 1.34 has flowclient.query_specs.pd)

from flowclient._spec_builders import Spec, spec_builders
from flowclient.kinds import KINDS
from flowclient.kinds import hours_spec as hours_spec

SPEC_BUILDERS: dict[str, Callable[..., Spec]] = spec_builders(
    KINDS, top_level=False, module=__name__
)
"""`{"daily_location_spec": daily_location_spec, ...}`: this module's builders, from the table."""

globals().update(SPEC_BUILDERS)
