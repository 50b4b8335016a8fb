"""ModalLocation: the location each subscriber holds most often across several reference locations.

Each input (e.g. one daily location per day) is a vote dated by its window start. A tie goes to the location
voted for on the most recent date (as in FlowKit), then to the greater location.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from psycopg import sql

from flowmachine.core.dates import timestamp_literal
from flowmachine.core.errors import InvalidSpecError
from flowmachine.core.spatial_unit import SpatialUnit
from flowmachine.core.sql_parts import identifiers
from flowmachine.features.subscriber.base_location import BaseLocation

if TYPE_CHECKING:
    from flowmachine.core.context import Context


class ModalLocation(BaseLocation):
    def __init__(self, locations: Sequence[BaseLocation]) -> None:
        if not locations:
            raise InvalidSpecError("modal_location needs at least one location query")
        units = {loc.spatial_unit for loc in locations}
        if len(units) != 1:
            raise InvalidSpecError(
                "every location of a modal_location must use the same spatial unit"
            )
        for loc in locations:
            if not hasattr(loc, "start"):
                raise InvalidSpecError(f"{type(loc).__name__} has no date to vote with")
        self.locations = tuple(locations)
        super().__init__()

    @property
    def spatial_unit(self) -> SpatialUnit:  # type: ignore[override]
        return self.locations[0].spatial_unit

    @property
    def start(self):
        return min(loc.start for loc in self.locations)

    @property
    def stop(self):
        return max(loc.stop for loc in self.locations)

    def _make_query(self, ctx: Context) -> sql.Composable:
        L = identifiers(self.location_columns)
        votes = sql.SQL(" UNION ALL ").join(
            sql.SQL("SELECT subscriber, {L}, {date} AS date FROM ({q}) v").format(
                L=L, date=timestamp_literal(loc.start), q=loc.get_query(ctx)
            )
            for loc in self.locations
        )
        return sql.SQL(
            """SELECT DISTINCT ON (subscriber) subscriber, {L}
               FROM (SELECT subscriber, {L}, count(*) AS votes, max(date) AS latest
                     FROM ({votes}) u GROUP BY subscriber, {L}) g
               ORDER BY subscriber, votes DESC, latest DESC, {L_desc}"""
        ).format(L=L, L_desc=identifiers(self.location_columns, suffix=" DESC"), votes=votes)
