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


def test_below_a_shared_dependency_stored_first_its_own_dependencies_count_once():
    # `shared` is stored first (two paths), so its SQL, and `deep` inside it, is computed once
    deep = Leaf("deep")
    shared = Node("shared", deep)
    top = Node("top", Node("a", shared), Node("b", shared))
    assert shared_dependencies(top) == {shared.query_id}
    # ... unless `deep` is also reached another way
    top2 = Node("top", Node("a", shared), Node("b", shared), Node("c", deep))
    assert shared_dependencies(top2) == {shared.query_id, deep.query_id}


def test_many_paths_are_counted_without_walking_them():
    # 60 stacked diamonds of unstorable queries: 2**60 paths to the leaf, counted in a moment
    leaf = Leaf("bottom")
    q: Query = leaf
    for i in range(60):
        q = Inline(f"join{i}", Inline(f"l{i}", q), Inline(f"r{i}", q))
    assert shared_dependencies(Node("top", q)) == {leaf.query_id}
