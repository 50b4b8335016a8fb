"""LocationIntroversion: the share of each location's interactions whose counterpart was at the same location.

Both legs of a call or SMS share the event id within one event table; each leg (A) in the `direction` asked
for is paired with the other leg (B) of the same event, both located in the spatial unit. Per A-location,
`value` = (pairs with B at the same location) / (pairs). Locations are published only if more than 15
distinct subscribers are behind their A legs.
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

_LEG_COLUMNS = ("id", "outgoing")


class LocationIntroversion(FromSubscriberLocations, Query):
    def __init__(
        self,
        start: str | dt.date | dt.datetime,
        stop: str | dt.date | dt.datetime,
        spatial_unit: SpatialUnit,
        *,
        direction: str = "both",
        hours: Sequence[int] | None = None,
        tables: str | Sequence[str] | None = None,
        subscriber_subset: Query | None = None,
        redact: bool = True,
    ) -> None:
        # the A legs; the B legs are the same events in both directions
        self.subscriber_locations = SubscriberLocations(
            start,
            stop,
            spatial_unit,
            tables=tables,
            hours=hours,
            subscriber_subset=subscriber_subset,
            direction=direction,
            extra_columns=_LEG_COLUMNS,
        )
        self.redact = bool(redact)
        super().__init__()

    @property
    def column_names(self) -> list[str]:
        return [*self.location_columns, "value"]

    def _legs(self, table: str, direction: str) -> SubscriberLocations:
        events = self.subscriber_locations.events
        return SubscriberLocations(
            events.start,
            events.stop,
            self.spatial_unit,
            tables=[table],
            hours=events.hours,
            subscriber_subset=events.subscriber_subset,
            direction=direction,
            extra_columns=_LEG_COLUMNS,
        )

    def _make_query(self, ctx: Context) -> sql.Composable:
        L = self.location_columns
        same = sql.SQL(" AND ").join(
            sql.SQL("a.{c} = b.{c}").format(c=sql.Identifier(c)) for c in L
        )
        # event ids pair legs within one table only, so each table is joined to itself
        per_table = [
            sql.SQL(
                """SELECT a.subscriber, {aL}, ({same}) AS same
                   FROM ({a}) a JOIN ({b}) b ON a.id = b.id AND a.outgoing <> b.outgoing"""
            ).format(
                aL=identifiers(L, "a"),
                same=same,
                a=self._legs(table, self.subscriber_locations.events.direction).get_query(ctx),
                b=self._legs(table, "both").get_query(ctx),
            )
            for table in self.subscriber_locations.events.resolved_tables(ctx)
        ]
        return sql.SQL(
            """SELECT {L}, avg(CASE WHEN same THEN 1.0 ELSE 0.0 END)::double precision AS value
               FROM ({pairs}) p GROUP BY {L}{having}"""
        ).format(
            L=identifiers(L),
            pairs=sql.SQL(" UNION ALL ").join(per_table),
            having=having(self.redact, sql.SQL("count(DISTINCT subscriber)")),
        )
