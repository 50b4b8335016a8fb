"""Deterministic query ids: an md5 of a canonical JSON form of a query's class, parameters and dependencies.

Unlike FlowKit's ids (which hash `str()` of values and drop attribute names), ours hash named, typed
parameters, so two specs that differ in any parameter (the sampling method included) get different ids, and
the same spec gets the same id in every process and after restarts.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import json
import math
from abc import ABC, abstractmethod
from typing import Any

# Bumped whenever the layout of cache tables or the meaning of a parameter changes: old entries stop matching.
CACHE_FORMAT_VERSION = "fm1"


class HasQueryId(ABC):
    """A value identified by a query id (every `Query`): as a parameter, it is a dependency, named by its id."""

    @property
    @abstractmethod
    def query_id(self) -> str: ...


def canonical(value: Any, dependencies: list[Any]) -> Any:
    """A JSON-able canonical form of one parameter value; Query values are collected into `dependencies`."""
    if isinstance(value, HasQueryId):
        dependencies.append(value)
        return {"query_id": value.query_id}
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if math.isinf(value) or math.isnan(value):
            return {"float": repr(value)}
        return value
    if isinstance(value, enum.Enum):
        return canonical(value.value, dependencies)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [canonical(v, dependencies) for v in value]
    if isinstance(value, frozenset | set):
        items = [canonical(v, dependencies) for v in value]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(value, dict):
        return {str(k): canonical(v, dependencies) for k, v in value.items()}
    canonical_form = getattr(value, "canonical", None)
    if callable(canonical_form):
        return {type(value).__name__: canonical(canonical_form(), dependencies)}
    raise TypeError(f"cannot derive a query id from a parameter of type {type(value).__name__}")


def make_query_id(class_name: str, params: dict[str, Any], dependency_ids: list[str]) -> str:
    document = {
        "class": class_name,
        "params": params,
        "dependencies": sorted(set(dependency_ids)),
        "format": CACHE_FORMAT_VERSION,
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.md5(text.encode()).hexdigest()
