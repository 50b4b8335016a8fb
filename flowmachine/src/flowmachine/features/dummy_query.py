"""DummyQuery: a query with no data, for testing the API's life cycle (queued, executing, completed).

Its result is one row with no columns. `dummy_delay` seconds are spent computing it (`pg_sleep` in the
database), so a test can watch it execute; FlowKit sleeps in the server while building the object instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from psycopg import sql

from flowmachine.core.errors import InvalidSpecError
from flowmachine.core.query import Query

if TYPE_CHECKING:
    from flowmachine.core.context import Context


class DummyQuery(Query):
    def __init__(
        self, dummy_param: str, *, dummy_delay: int = 0, aggregation_unit: str | None = None
    ) -> None:
        if not isinstance(dummy_delay, int) or dummy_delay < 0:
            raise InvalidSpecError("dummy_delay must be a whole number of seconds, 0 or more")
        self.dummy_param = str(dummy_param)
        self.dummy_delay = dummy_delay
        # only part of its identity, so that specs differing in their unit never share an id
        self.aggregation_unit = aggregation_unit
        super().__init__()

    @property
    def column_names(self) -> list[str]:
        return []

    def _make_query(self, ctx: Context) -> sql.Composable:
        return sql.SQL("SELECT FROM pg_sleep({})").format(sql.Literal(self.dummy_delay))
