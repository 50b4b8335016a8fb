"""The cache's public names, kept at their old import path (`flowmachine.core.cache`) for callers and the guides.

The cache lives in four modules, each with one job, imported in this order. None imports `query`, and
`cache_plan` and `cache_tables` not `context`, not even for type checking: they name the protocols of `cacheable`
(what they need of a query and of a context), which `Query` and `Context` satisfy. So `Query` and `Context` import
them at module level, and no import goes back up.

- `cache_plan`: pure dependency planning (which storable queries lie below a query, in which order and levels);
- `cache_tables`: the stored form of a result (its table and its rows in `cache.cached`/`cache.dependencies`):
  read, written, dropped, sized, recovered after restarts;
- `cache_compute`: computing queries into the cache, exactly one process each;
- `cache_eviction`: cancelling, invalidating, and evicting down to the cache's size.
"""

from __future__ import annotations

from flowmachine.core.cache_compute import (
    PLANNER_SETTINGS,
    compute,
    compute_answer,
    compute_dependencies,
    compute_one,
    prepare_answer,
    statement_settings,
    stored_dependency_ids,
)
from flowmachine.core.cache_eviction import cancel, invalidate, shrink_below_size
from flowmachine.core.cache_plan import (
    dependencies_before_answer,
    dependency_levels,
    shared_dependencies,
    storable_dependencies,
)
from flowmachine.core.cache_tables import (
    CACHE_SCHEMA,
    CACHE_STATISTICS_TARGET,
    adopt_cached,
    cache_size,
    read_cached,
    recover,
    table_exists,
)

__all__ = [
    "CACHE_SCHEMA",
    "CACHE_STATISTICS_TARGET",
    "PLANNER_SETTINGS",
    "adopt_cached",
    "cache_size",
    "cancel",
    "compute",
    "compute_answer",
    "compute_dependencies",
    "compute_one",
    "dependencies_before_answer",
    "dependency_levels",
    "invalidate",
    "prepare_answer",
    "read_cached",
    "recover",
    "shared_dependencies",
    "shrink_below_size",
    "statement_settings",
    "storable_dependencies",
    "stored_dependency_ids",
    "table_exists",
]
