"""What FlowMachine says about a query that can never change, remembered so a request does not ask again.

A query id is a hash of its spec, so the spec FlowMachine stored for an id is fixed; the aggregation unit of
a spec is a function of the spec. Poll and get check the caller's scopes against both before every answer,
and a run checks them before the query starts: remembering them turns a cached result's run -> poll -> get
from eight FlowMachine calls into three. Only successful answers are remembered (a query FlowMachine has
forgotten still gets its 404 from the poll, get or cancel call that follows). Both tables are bounded
in characters (FLOWAPI_QUERY_FACTS_BYTES, 16 MiB each by default), least recently used first out, and a
spec larger than 1/64 of that is never remembered.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any


class _Bounded:
    """A least-recently-used map of strings holding at most `budget` characters of keys and values."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._items: OrderedDict[str, str] = OrderedDict()
        self._used = 0

    def get(self, key: str) -> str | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: str, value: str) -> None:
        cost = len(key) + len(value)
        if cost > self.budget // 64:  # an outsized spec is not worth evicting many others for
            return
        old = self._items.pop(key, None)
        if old is not None:
            self._used -= len(key) + len(old)
        self._items[key] = value
        self._used += cost
        while self._used > self.budget:
            k, v = self._items.popitem(last=False)
            self._used -= len(k) + len(v)


class QueryFacts:
    """The spec behind each query id and the aggregation unit of each spec, as FlowMachine gave them."""

    def __init__(self, budget: int = 16 * 2**20) -> None:
        """`budget`: characters of JSON each of the two tables may hold."""
        self._specs = _Bounded(budget)
        self._units = _Bounded(budget)

    def spec(self, query_id: str) -> dict[str, Any] | None:
        """A fresh copy of the spec remembered for `query_id`, or None."""
        text = self._specs.get(query_id)
        return None if text is None else json.loads(text)

    def remember_spec(self, query_id: str, spec: dict[str, Any]) -> None:
        self._specs.put(query_id, json.dumps(spec))

    def unit(self, spec: dict[str, Any]) -> tuple[bool, str | None]:
        """(known, aggregation unit) of `spec`; a spec without a unit is known with None."""
        text = self._units.get(_canonical(spec))
        return (False, None) if text is None else (True, json.loads(text))

    def remember_unit(self, spec: dict[str, Any], unit: str | None) -> None:
        self._units.put(_canonical(spec), json.dumps(unit))


def _canonical(spec: dict[str, Any]) -> str:
    return json.dumps(spec, sort_keys=True, separators=(",", ":"))
