"""Pure dependency planning for the cache: which storable queries lie below a query, in which order and
levels they can be stored, and which of them the answer would compute more than once if inlined.

Nothing here touches FlowDB or Redis: every function reads only the query graph.
"""

from __future__ import annotations

from collections import Counter
from typing import TypeVar

from flowmachine.core.cacheable import AnyPlannedQuery, PlannedQuery

# A query's type (`Query` at run time): the functions hand back the dependencies they were given, typed as such.
QueryT = TypeVar("QueryT", bound=AnyPlannedQuery)


def storable_dependencies(query: PlannedQuery[QueryT]) -> list[QueryT]:
    """Every storable query below `query`, deepest first (each once)."""
    ordered: dict[str, QueryT] = {}

    def visit(q: PlannedQuery[QueryT]) -> None:
        for dep in q.dependencies:
            visit(dep)
            if dep.storable:
                ordered.setdefault(dep.query_id, dep)

    visit(query)
    return list(ordered.values())


def dependency_levels(query: PlannedQuery[QueryT]) -> list[list[QueryT]]:
    """The storable queries below `query` by height: those resting on no stored query first, then those
    resting only on the first, and so on. Queries of one level never depend on each other."""
    height: dict[str, int] = {}  # the number of storable queries on the longest chain below

    def level_of(q: AnyPlannedQuery) -> int:
        if q.query_id not in height:
            height[q.query_id] = max(
                (level_of(d) + 1 if d.storable else level_of(d) for d in q.dependencies), default=0
            )
        return height[q.query_id]

    levels: list[list[QueryT]] = []
    for dep in storable_dependencies(query):
        level = level_of(dep)
        while len(levels) <= level:
            levels.append([])
        levels[level].append(dep)
    return [level for level in levels if level]


def shared_dependencies(query: AnyPlannedQuery) -> set[str]:
    """The query ids of the storable queries below `query` that its SQL would reach along two or more paths:
    left unstored, each would be inlined, and computed, once per path.

    Counted top down over the distinct queries (no enumeration of paths): a query's SQL appears as often as
    its parents' SQL does, except that a query stored first (shared, or `store_first`) appears once, in its
    own statement, so what lies below it is counted once through it."""
    below_first: list[
        AnyPlannedQuery
    ] = []  # every distinct query, each after all the queries above it
    seen: set[str] = set()

    def visit(q: AnyPlannedQuery) -> None:
        seen.add(q.query_id)
        for dep in q.dependencies:
            if dep.query_id not in seen:
                visit(dep)
        below_first.append(q)

    visit(query)
    times: Counter[str] = Counter({query.query_id: 1})
    shared: set[str] = set()
    for q in reversed(below_first):
        appears = times[q.query_id]
        if q is not query and q.storable and (appears > 1 or q.store_first):
            if appears > 1:
                shared.add(q.query_id)
            appears = 1
        for dep in q.dependencies:
            times[dep.query_id] += appears
    return shared


def dependencies_before_answer(query: PlannedQuery[QueryT]) -> list[QueryT]:
    """The storable queries below `query` that `compute_answer` stores first (deepest first): those marked
    `store_first` (the cell mappings) and those the answer would otherwise compute more than once."""
    shared = shared_dependencies(query)
    return [
        dep for dep in storable_dependencies(query) if dep.store_first or dep.query_id in shared
    ]
