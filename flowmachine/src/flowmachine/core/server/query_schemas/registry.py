"""Query kinds register themselves: `@register_kind(TOP_LEVEL)` on a query schema class, in its own module.

The groups are the entry point groups plugins use (`flowmachine.core.server.plugins`), so a built-in kind and a
plugin's kind are listed the same way. A registry schema (`FlowmachineQuerySchema`, `ReferenceLocationSchema`)
names its group; its kinds are the registered ones, then any added to its `query_schemas` by hand (the seed's
developer guide) or by a plugin. Every module of this package is imported the first time a group is read, so
a new kind needs no import anywhere else.

Order is what the published spec shows: the kinds the spec had before registration existed keep their places
(`SPEC_ORDER`, so the OpenAPI document stays byte for byte the same); any other kind follows, by name.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from typing import TypeVar

from marshmallow import Schema

TOP_LEVEL = "flowmachine.query_kinds"  # aggregate, redacted: runnable through the API
REFERENCE_LOCATION = (
    "flowmachine.reference_location_kinds"  # accepted wherever a reference location is
)

SPEC_ORDER: dict[str, tuple[str, ...]] = {
    TOP_LEVEL: (
        "calendar_activity",
        "labelled_flows",
        "labelled_spatial_aggregate",
        "localised_calendar_activity",
        "active_at_reference_location_counts",
        "aggregate_network_objects",
        "consecutive_trips_od_matrix",
        "dfs_metric_total_amount",
        "dummy_query",
        "flows",
        "geography",
        "histogram_aggregate",
        "inflows",
        "joined_spatial_aggregate",
        "location_event_counts",
        "location_introversion",
        "meaningful_locations_aggregate",
        "meaningful_locations_between_dates_od_matrix",
        "meaningful_locations_between_label_od_matrix",
        "outflows",
        "spatial_aggregate",
        "total_network_objects",
        "trips_od_matrix",
        "unique_subscriber_counts",
        "unique_visitor_counts",
        "unmoving_at_reference_location_counts",
        "unmoving_counts",
        # ours, after FlowKit 1.34's kinds
        "rolling_unique_subscriber_counts",
    ),
    REFERENCE_LOCATION: (
        "daily_location",
        "modal_location",
        "most_frequent_location",
        "visited_most_days",
        "majority_location",
        "coalesced_location",
    ),
}

_registered: dict[str, list[type[Schema]]] = {TOP_LEVEL: [], REFERENCE_LOCATION: []}
_builtins_imported = False

S = TypeVar("S", bound=type[Schema])


def kind_of(schema: type[Schema]) -> str:
    """The query kind a query schema loads (its `__model__`'s); TypeError if it is not a query schema."""
    kind = getattr(getattr(schema, "__model__", None), "query_kind", None)
    if not isinstance(schema, type) or not issubclass(schema, Schema) or not kind:
        raise TypeError(
            f"{schema!r} is not a query schema (a Schema whose __model__ has a query_kind)"
        )
    return kind


def register_kind(*groups: str) -> Callable[[S], S]:
    """Class decorator: list this query schema in each of `groups` (TOP_LEVEL, REFERENCE_LOCATION)."""
    unknown = [g for g in groups if g not in _registered]
    if unknown or not groups:
        raise ValueError(f"register_kind needs groups among {sorted(_registered)}, got {groups!r}")

    def register(schema: S) -> S:
        kind = kind_of(schema)
        for group in groups:
            members = _registered[group]
            if schema in members:
                continue
            if any(kind_of(other) == kind for other in members):
                raise ValueError(f"query kind {kind!r} is already registered in {group}")
            members.append(schema)
        return schema

    return register


def _import_builtin_kinds() -> None:
    global _builtins_imported
    if _builtins_imported:
        return
    package = __name__.rpartition(".")[0]
    for module in pkgutil.iter_modules(importlib.import_module(package).__path__):
        importlib.import_module(f"{package}.{module.name}")
    _builtins_imported = True


def registered_schemas(group: str) -> tuple[type[Schema], ...]:
    """The query schemas registered in `group`, in spec order."""
    _import_builtin_kinds()
    order = {kind: i for i, kind in enumerate(SPEC_ORDER.get(group, ()))}
    return tuple(
        sorted(
            _registered[group],
            key=lambda s: (order.get(kind_of(s), len(order)), kind_of(s)),
        )
    )
