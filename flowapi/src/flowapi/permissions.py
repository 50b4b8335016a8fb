"""Scopes: what a request needs, whether a user's roles grant it, and the list FlowAPI publishes.

    scope          := simple_scope | complex_scope
    simple_scope   := "run" | "get_result" | "get_available_dates" | "get_qa_checks"
    complex_scope  := <aggregation unit | "nonspatial"> ":" <top-level kind> ":" <nested kind>

A query spec needs `<unit>:<its kind>:<k>` for every `query_kind` value `k` anywhere inside it (itself
included), where `<unit>` is the aggregation unit FlowMachine gives the top-level query. A request is
allowed only when ONE role holds every scope it needs, together with one of its action scopes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from flowapi.auth import User

RUN = "run"
GET_RESULT = "get_result"
GET_AVAILABLE_DATES = "get_available_dates"
GET_QA_CHECKS = "get_qa_checks"
SIMPLE_SCOPES = (RUN, GET_RESULT, GET_AVAILABLE_DATES, GET_QA_CHECKS)
NONSPATIAL = "nonspatial"
ROOT_SCHEMA = "FlowmachineQuerySchema"


def query_kinds_in(spec: Any) -> Iterator[str]:
    """Every value stored under a `query_kind` key anywhere in `spec` (nested dicts and lists)."""
    if isinstance(spec, dict):
        for key, value in spec.items():
            if key == "query_kind" and isinstance(value, str):
                yield value
            else:
                yield from query_kinds_in(value)
    elif isinstance(spec, list):
        for item in spec:
            yield from query_kinds_in(item)


def query_scopes(spec: dict[str, Any], aggregation_unit: str | None) -> frozenset[str]:
    """The complex scopes running or reading the query `spec` needs."""
    unit = aggregation_unit or NONSPATIAL
    top = spec["query_kind"]
    return frozenset(f"{unit}:{top}:{kind}" for kind in {top, *query_kinds_in(spec)})


def geography_scopes(aggregation_unit: str) -> frozenset[str]:
    return frozenset({f"{aggregation_unit}:geography:geography"})


def is_allowed(user: User, action_scopes: Iterable[str], needed: Iterable[str] = ()) -> bool:
    """True when one single role holds one of `action_scopes` and every scope in `needed`."""
    actions, needed = frozenset(action_scopes), frozenset(needed)
    return any(
        needed <= scopes and (not actions or bool(actions & scopes))
        for scopes in user.roles.values()
    )


# the published scope list ---------------------------------------------------------------------------------


def _resolve(schema: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return schemas.get(ref.rsplit("/", 1)[-1], {})
    return schema


def _walk(schema: Any, schemas: dict[str, Any], seen: set[str]) -> Iterator[dict[str, Any]]:
    """Every (sub)schema reachable from `schema`, following $refs once each."""
    if isinstance(schema, list):
        for item in schema:
            yield from _walk(item, schemas, seen)
        return
    if not isinstance(schema, dict):
        return
    ref = schema.get("$ref")
    if isinstance(ref, str):
        if ref in seen:
            return
        seen.add(ref)
        yield from _walk(_resolve(schema, schemas), schemas, seen)
        return
    yield schema
    for key, value in schema.items():
        if key not in ("discriminator", "enum", "required", "example", "default"):
            yield from _walk(value, schemas, seen)


def _own_kind(schema: dict[str, Any]) -> str | None:
    enum = schema.get("properties", {}).get("query_kind", {}).get("enum")
    return enum[0] if isinstance(enum, list) and enum and isinstance(enum[0], str) else None


def _units(schema: dict[str, Any]) -> list[str]:
    enum = schema.get("properties", {}).get("aggregation_unit", {}).get("enum")
    return [u for u in enum if isinstance(u, str)] if isinstance(enum, list) else []


def all_scopes(schemas: dict[str, Any]) -> list[str]:
    """Every scope a token could need against these query schemas (FlowMachine's get_query_schemas).

    For each top-level kind T: the nested kinds are every `query_kind` reachable from T's schema. The
    units are T's own `aggregation_unit` values; a T without one gets its query's unit from inside
    (spatial_aggregate from its locations) or none at all, so it is published with the units found
    inside it and with `nonspatial`.
    """
    root = schemas.get(ROOT_SCHEMA, {})
    scopes: set[str] = set(SIMPLE_SCOPES)
    mapping = root.get("discriminator", {}).get("mapping") or {}
    members: list[tuple[str | None, dict[str, Any]]] = [
        (kind, {"$ref": ref}) for kind, ref in mapping.items()
    ] or [(None, member) for member in root.get("oneOf", [])]
    for kind_name, member in members:
        top_schema = _resolve(member, schemas)
        top = kind_name or _own_kind(top_schema)
        if top is None:
            continue
        reachable = list(_walk(top_schema, schemas, set()))
        kinds = {k for s in reachable if (k := _own_kind(s)) is not None} | {top}
        units = _units(top_schema)
        if not units:
            units = sorted({u for s in reachable for u in _units(s)}) + [NONSPATIAL]
        scopes.update(f"{unit}:{top}:{kind}" for unit in units for kind in kinds)
    return sorted(scopes)
