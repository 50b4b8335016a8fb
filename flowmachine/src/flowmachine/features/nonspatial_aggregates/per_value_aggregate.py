"""PerValueAggregate: subscribers per distinct value of a per-subscriber query (e.g. an activity pattern).

`grp, value`: each distinct `value` of the input as `grp`, and the number of subscribers having it; with
redaction, values held by 15 or fewer subscribers are left out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from psycopg import sql

from flowmachine.core.errors import InvalidSpecError
from flowmachine.core.query import Query
from flowmachine.core.redaction import having

if TYPE_CHECKING:
    from flowmachine.core.context import Context


class PerValueAggregate(Query):
    def __init__(self, metric: Query, *, redact: bool = True) -> None:
        if metric.column_names[:1] != ["subscriber"] or "value" not in metric.column_names:
            raise InvalidSpecError("per-value aggregates need a per-subscriber query with a value")
        self.metric = metric
        self.redact = bool(redact)
        super().__init__()

    @property
    def column_names(self) -> list[str]:
        return ["grp", "value"]

    def _make_query(self, ctx: Context) -> sql.Composable:
        return sql.SQL(
            "SELECT value AS grp, count(DISTINCT subscriber) AS value FROM ({metric}) m "
            "GROUP BY value{having}"
        ).format(
            metric=self.metric.get_query(ctx),
            having=having(self.redact, sql.SQL("count(DISTINCT subscriber)")),
        )
