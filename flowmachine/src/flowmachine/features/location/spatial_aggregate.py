"""SpatialAggregate: the number of subscribers whose reference location is each location."""

from __future__ import annotations

from typing import TYPE_CHECKING

from psycopg import sql

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


class SpatialAggregate(Query):
    """`<location columns>, value`: subscribers per location; locations with 15 or fewer are left out, and, of
    a sample, locations where it leaves out 1–15 of the unsampled subscribers (`core.sampled_release`)."""

    def __init__(self, locations: BaseLocation, *, redact: bool = True) -> None:
        self.locations = locations
        self.redact = bool(redact)
        self._sampled = self.redact and is_sampled(locations)
        super().__init__()

    @property
    def spatial_unit(self):
        return self.locations.spatial_unit

    @property
    def location_columns(self) -> tuple[str, ...]:
        return self.locations.location_columns

    @property
    def column_names(self) -> list[str]:
        return [*self.location_columns, "value"]

    def _make_query(self, ctx: Context) -> sql.Composable:
        L = identifiers(self.location_columns)
        counts = sql.SQL(
            "SELECT {L}, count(*) AS value FROM ({locations}) l GROUP BY {L}{having}"
        ).format(
            L=L,
            locations=self.locations.get_query(ctx),
            having=having(self.redact, sql.SQL("count(*)")),
        )
        if not self._sampled:
            return counts
        full = SpatialAggregate(unsampled(self.locations), redact=False)
        return publish_where_sample_leaves_out_none_or_many(
            counts, full.get_query(ctx), self.location_columns
        )
