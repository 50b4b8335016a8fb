"""Which dependencies a server stores before answering: the cell mappings, and any dependency the answer's SQL
would reach along two paths (inlined, it would be computed once per path)."""

from __future__ import annotations

from psycopg import sql

from flowmachine.core.cache import dependencies_before_answer, shared_dependencies
from flowmachine.core.query import Query


class Leaf(Query):
    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__()

    @property
    def column_names(self) -> list[str]:
        return ["x"]

    def _make_query(self, ctx) -> sql.Composable:
        return sql.SQL("SELECT 1 AS x")


class Node(Query):
    def __init__(self, name: str, *below: Query) -> None:
        self.name = name
        self.below = list(below)
        super().__init__()

    @property
    def column_names(self) -> list[str]:
        return ["x"]

    def _make_query(self, ctx) -> sql.Composable:
        return sql.SQL(" UNION ALL ").join(q.get_query(ctx) for q in self.below)


class Inline(Node):
    storable = False


def test_a_dependency_reached_twice_is_stored_first_one_reached_once_is_inlined():
    shared, alone = Leaf("shared"), Leaf("alone")
    top = Node("top", Node("left", shared, alone), Inline("right", shared))
    assert shared_dependencies(top) == {shared.query_id}
    assert [q.query_id for q in dependencies_before_answer(top)] == [shared.query_id]


def test_paths_through_an_unstorable_query_count_once_per_path():
    shared = Leaf("shared")
    twice = Inline("twice", shared)
    top = Node("top", Node("a", twice), Node("b", twice))
    assert shared_dependencies(top) == {shared.query_id}  # the unstorable one is never stored
    assert {q.query_id for q in dependencies_before_answer(top)} == {shared.query_id}


def test_a_tree_without_shared_dependencies_stores_nothing_first():
    top = Node("top", Node("a", Leaf("1")), Node("b", Leaf("2")))
    assert shared_dependencies(top) == set()
    assert dependencies_before_answer(top) == []
