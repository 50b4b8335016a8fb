"""Origin-destination matrices of trips between the located events of each subscriber in a window.

- `TripsODMatrix`: a subscriber counts once for (A, B), A ≠ B, if their earliest event at A is before their
  latest event at B.
- `ConsecutiveTripsODMatrix`: a subscriber counts once for (A, B) if one of their events at A is directly
  followed by one at B (same-location transitions included). Events at the same instant are ordered by cell
  id, then location (FlowKit orders them arbitrarily).

Each row is the number of distinct subscribers behind the pair; rows with 15 or fewer are left out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

from psycopg import sql

from flowmachine.core.query import Query
from flowmachine.core.redaction import having
from flowmachine.core.spatial_unit import SpatialUnit
from flowmachine.core.sql_parts import identifiers
from flowmachine.features.utilities.subscriber_locations import (
    FromSubscriberLocations,
    SubscriberLocations,
)

if TYPE_CHECKING:
    from flowmachine.core.context import Context


class _TripsBase(FromSubscriberLocations, Query):
    def __init__(
        self,
        start: str | dt.date | dt.datetime,
        stop: str | dt.date | dt.datetime,
        spatial_unit: SpatialUnit,
        *,
        hours: Sequence[int] | None = None,
        tables: str | Sequence[str] | None = None,
        subscriber_subset: Query | None = None,
        redact: bool = True,
    ) -> None:
        self.subscriber_locations = SubscriberLocations(
            start,
            stop,
            spatial_unit,
            tables=tables,
            hours=hours,
            subscriber_subset=subscriber_subset,
        )
        self.redact = bool(redact)
        super().__init__()

    @property
    def column_names(self) -> list[str]:
        L = self.location_columns
        return [*(f"{c}_from" for c in L), *(f"{c}_to" for c in L), "value"]

    def _count_pairs(self, pairs: sql.Composable) -> sql.Composable:
        """Rows of `pairs` (one per subscriber and pair) counted per pair."""
        keys = identifiers(self.column_names[:-1])
        return sql.SQL(
            "SELECT {keys}, count(*) AS value FROM ({pairs}) p GROUP BY {keys}{having}"
        ).format(keys=keys, pairs=pairs, having=having(self.redact, sql.SQL("count(*)")))

    def _side(self, alias: str, suffix: str, source: str | None = None) -> sql.Composable:
        return sql.SQL(", ").join(
            sql.SQL("{} AS {}").format(
                sql.Identifier(alias, f"{c}{source}" if source else c),
                sql.Identifier(f"{c}_{suffix}"),
            )
            for c in self.location_columns
        )


class TripsODMatrix(_TripsBase):
    """`<L>_from…, <L>_to…, value`: subscribers first seen at one location before last seen at another."""

    def _make_query(self, ctx: Context) -> sql.Composable:
        L = self.location_columns
        different = sql.SQL(" OR ").join(
            sql.SQL("a.{c} <> b.{c}").format(c=sql.Identifier(c)) for c in L
        )
        pairs = sql.SQL(
            """WITH v AS (
                 SELECT subscriber, {L}, min(time) AS first_seen, max(time) AS last_seen
                 FROM ({locations}) s GROUP BY subscriber, {L})
               SELECT a.subscriber, {a}, {b}
               FROM v a JOIN v b
                 ON a.subscriber = b.subscriber AND a.first_seen < b.last_seen AND ({different})"""
        ).format(
            L=identifiers(L),
            locations=self.subscriber_locations.get_query(ctx),
            a=self._side("a", "from"),
            b=self._side("b", "to"),
            different=different,
        )
        return self._count_pairs(pairs)


class ConsecutiveTripsODMatrix(_TripsBase):
    """`<L>_from…, <L>_to…, value`: subscribers with an event at one location directly followed by one at
    the other."""

    def _make_query(self, ctx: Context) -> sql.Composable:
        L = self.location_columns
        order = ["time", "location_id", *(c for c in L if c != "location_id")]
        pairs = sql.SQL(
            """SELECT DISTINCT subscriber, {a}, {b} FROM (
                 SELECT subscriber, {L}, {nexts}, lead(time) OVER w AS next_time
                 FROM ({locations}) s
                 WINDOW w AS (PARTITION BY subscriber ORDER BY {order})
               ) e WHERE next_time IS NOT NULL"""
        ).format(
            a=self._side("e", "from"),
            b=self._side("e", "to", "_next"),
            L=identifiers(L),
            nexts=sql.SQL(", ").join(
                sql.SQL("lead({c}) OVER w AS {n}").format(
                    c=sql.Identifier(c), n=sql.Identifier(f"{c}_next")
                )
                for c in L
            ),
            locations=self.subscriber_locations.get_query(ctx),
            order=identifiers(order),
        )
        return self._count_pairs(pairs)
