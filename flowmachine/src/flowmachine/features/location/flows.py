"""Flows between two reference locations of the same subscribers, and their in- and out-totals.

`Flows` counts subscribers per (from, to) pair; `InFlow` and `OutFlow` count them per destination and per
origin. Each redacts its own rows on the distinct subscribers behind them (FlowKit's in/outflows threshold the
summed pair counts, which over-counts subscribers when the inputs are unique locations).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from psycopg import sql

from flowmachine.core.errors import InvalidSpecError
from flowmachine.core.query import Query
from flowmachine.core.redaction import having
from flowmachine.core.sampled_release import (
    is_sampled,
    publish_where_sample_leaves_out_none_or_many,
    unsampled,
)
from flowmachine.core.sql_parts import identifiers
from flowmachine.features.subscriber.base_location import BaseLocation

if TYPE_CHECKING:
    from flowmachine.core.context import Context

JOIN_TYPES = {
    "inner": "INNER JOIN",
    "full outer": "FULL OUTER JOIN",
    "left": "LEFT JOIN",
    "right": "RIGHT JOIN",
    "left outer": "LEFT OUTER JOIN",
    "right outer": "RIGHT OUTER JOIN",
}


class _FlowBase(Query):
    def __init__(
        self,
        from_location: BaseLocation,
        to_location: BaseLocation,
        *,
        join_type: str = "inner",
        redact: bool = True,
    ) -> None:
        if from_location.spatial_unit != to_location.spatial_unit:
            raise InvalidSpecError("from_location and to_location must use the same spatial unit")
        if join_type not in JOIN_TYPES:
            raise InvalidSpecError(
                f"join_type must be one of {', '.join(JOIN_TYPES)}, not {join_type!r}"
            )
        self.from_location = from_location
        self.to_location = to_location
        self.join_type = join_type
        self.redact = bool(redact)
        # of samples: published only where they leave out 0 or more than 15 (`core.sampled_release`)
        self._sampled = self.redact and is_sampled(from_location, to_location)
        super().__init__()

    @property
    def spatial_unit(self):
        return self.from_location.spatial_unit

    @property
    def location_columns(self) -> tuple[str, ...]:
        return self.from_location.location_columns

    def _pairs(self, ctx: Context) -> sql.Composable:
        """`subscriber, <L>_from…, <L>_to…` for every joined pair of rows."""
        L = self.location_columns
        from_cols = [
            sql.SQL("a.{} AS {}").format(sql.Identifier(c), sql.Identifier(f"{c}_from")) for c in L
        ]
        to_cols = [
            sql.SQL("b.{} AS {}").format(sql.Identifier(c), sql.Identifier(f"{c}_to")) for c in L
        ]
        return sql.SQL(
            "SELECT coalesce(a.subscriber, b.subscriber) AS subscriber, {cols} "
            "FROM ({a}) a {join} ({b}) b ON a.subscriber = b.subscriber"
        ).format(
            cols=sql.SQL(", ").join(from_cols + to_cols),
            a=self.from_location.get_query(ctx),
            join=sql.SQL(JOIN_TYPES[self.join_type]),
            b=self.to_location.get_query(ctx),
        )


class Flows(_FlowBase):
    """`<L>_from…, <L>_to…, value`: subscribers moving from each location to each location; of samples, only
    the pairs where they leave out 0 or more than 15 of the unsampled pair's subscribers
    (`core.sampled_release`)."""

    @property
    def column_names(self) -> list[str]:
        L = self.location_columns
        return [*(f"{c}_from" for c in L), *(f"{c}_to" for c in L), "value"]

    def _make_query(self, ctx: Context) -> sql.Composable:
        keys = identifiers(self.column_names[:-1])
        counts = sql.SQL(
            "SELECT {keys}, count(*) AS value FROM ({pairs}) p GROUP BY {keys}{having}"
        ).format(
            keys=keys,
            pairs=self._pairs(ctx),
            # each (subscriber, from, to) is one row, so the count is of distinct subscribers
            having=having(self.redact, sql.SQL("count(*)")),
        )
        if not self._sampled:
            return counts
        full = Flows(
            unsampled(self.from_location),
            unsampled(self.to_location),
            join_type=self.join_type,
            redact=False,
        )
        return publish_where_sample_leaves_out_none_or_many(
            counts, full.get_query(ctx), self.column_names[:-1]
        )


class _FlowTotal(_FlowBase):
    side: str

    @property
    def column_names(self) -> list[str]:
        return [*self.location_columns, "value"]

    def _counts(self, ctx: Context, *, subscribers: bool = False) -> sql.Composable:
        side = [
            sql.SQL("{} AS {}").format(sql.Identifier(f"{c}_{self.side}"), sql.Identifier(c))
            for c in self.location_columns
        ]
        keys = identifiers([f"{c}_{self.side}" for c in self.location_columns])
        return sql.SQL(
            "SELECT {side}, count(*) AS value{subscribers} FROM ({pairs}) p GROUP BY {keys}{having}"
        ).format(
            side=sql.SQL(", ").join(side),
            subscribers=sql.SQL(
                ", count(DISTINCT subscriber) AS subscribers" if subscribers else ""
            ),
            pairs=self._pairs(ctx),
            keys=keys,
            having=having(self.redact, sql.SQL("count(DISTINCT subscriber)")),
        )

    def _make_query(self, ctx: Context) -> sql.Composable:
        if not self._sampled:
            return self._counts(ctx)
        # a total counts (subscriber, pair) rows: both it and the subscribers behind it must differ from the
        # unsampled ones by 0 or more than 15
        full = type(self)(
            unsampled(self.from_location),
            unsampled(self.to_location),
            join_type=self.join_type,
            redact=False,
        )
        return publish_where_sample_leaves_out_none_or_many(
            self._counts(ctx, subscribers=True),
            full._counts(ctx, subscribers=True),
            self.location_columns,
            compare=("value", "subscribers"),
        )


class InFlow(_FlowTotal):
    """`<L>, value`: the number of (subscriber, origin) pairs arriving at each location."""

    side = "to"


class OutFlow(_FlowTotal):
    """`<L>, value`: the number of (subscriber, destination) pairs leaving each location."""

    side = "from"
