"""UniqueSubscriberCounts: the number of distinct subscribers seen at each location in the window."""

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


class UniqueSubscriberCounts(FromSubscriberLocations, Query):
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
        return [*self.location_columns, "value"]

    def _make_query(self, ctx: Context) -> sql.Composable:
        L = identifiers(self.location_columns)
        return sql.SQL(
            """SELECT {L}, count(*) AS value
               FROM (SELECT DISTINCT subscriber, {L} FROM ({locations}) s) u
               GROUP BY {L}{having}"""
        ).format(
            L=L,
            locations=self.subscriber_locations.get_query(ctx),
            having=having(self.redact, sql.SQL("count(*)")),
        )
