"""What the cache modules need of a query and of a context, as protocols.

`cache_plan` and `cache_tables` come before `context` and `query` in the core's one-way import order, so they
cannot name `Query` or `Context`, not even for type checking. They name these protocols instead, which `Query`
(every query kind) and `Context` satisfy structurally, without subclassing them. `cache_compute`, which comes
after `context`, adds what computing needs, the methods that take a `Context` among it (`CacheableQuery`).

`PlannedQuery` is generic in the type of its dependencies, so that the planner hands back what it was given:
`storable_dependencies(query)` of a `Query` is a `list[Query]`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from psycopg import sql

if TYPE_CHECKING:
    from flowmachine.core.connections import FlowDBConnections
    from flowmachine.core.state import StateStore

DependencyT_co = TypeVar("DependencyT_co", covariant=True)


class PlannedQuery(Protocol[DependencyT_co]):
    """A query as the dependency planner sees it: its id, how it is stored, and the queries it is built on."""

    @property
    def query_id(self) -> str: ...

    @property
    def storable(self) -> bool:
        """False for queries only ever embedded in others (never stored on their own)."""
        ...

    @property
    def store_first(self) -> bool:
        """True for queries stored before any query using them is answered."""
        ...

    @property
    def dependencies(self) -> Sequence[DependencyT_co]:
        """The queries this one is built on directly."""
        ...


class StoredQuery(PlannedQuery[DependencyT_co], Protocol[DependencyT_co]):
    """A query as its stored form needs it: where its table is, how it is indexed, what it is recorded as."""

    @property
    def params(self) -> dict[str, Any]: ...

    @property
    def index_cols(self) -> Sequence[str | tuple[str, ...]]: ...

    @property
    def table_name(self) -> str: ...

    @property
    def fully_qualified_table_name(self) -> str: ...

    @property
    def table_identifier(self) -> sql.Identifier: ...


# The type of any query the planner or the cache tables are given, whatever its dependencies' type.
AnyPlannedQuery = PlannedQuery[Any]
AnyStoredQuery = StoredQuery[Any]


class CacheContext(Protocol):
    """What the cache tables need of a `Context`: FlowDB's connections and the query state store."""

    @property
    def pool(self) -> FlowDBConnections: ...

    @property
    def states(self) -> StateStore: ...
