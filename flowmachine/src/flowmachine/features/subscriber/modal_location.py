"""ModalLocation: the location each subscriber holds most often across several reference locations.

Each input (e.g. one daily location per day) is a vote dated by its window start. A tie goes to the location
voted for on the most recent date (as in FlowKit), then to the greater location.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from psycopg import sql

from flowmachine.core.dates import timestamp_literal
from flowmachine.core.errors import InvalidSpecError
from flowmachine.core.spatial_unit import SpatialUnit
from flowmachine.core.sql_parts import identifiers
from flowmachine.features.subscriber.base_location import BaseLocation

if TYPE_CHECKING:
    from flowmachine.core.context import Context


@runtime_checkable
class _Dated(Protocol):
    @property
    def start(self) -> dt.datetime: ...

    @property
    def stop(self) -> dt.datetime: ...


def _window(location: BaseLocation) -> tuple[dt.datetime, dt.datetime]:
    """The window a voting location was found in (ModalLocation checks on creation that each has one)."""
    if not isinstance(location, _Dated):
        raise InvalidSpecError(f"{type(location).__name__} has no date to vote with")
    return location.start, location.stop


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
    def spatial_unit(self) -> SpatialUnit:
        return self.locations[0].spatial_unit

    @property
    def start(self) -> dt.datetime:
        return min(_window(loc)[0] for loc in self.locations)

    @property
    def stop(self) -> dt.datetime:
        return max(_window(loc)[1] for loc in self.locations)

    def _make_query(self, ctx: Context) -> sql.Composable:
        L = identifiers(self.location_columns)
        votes = sql.SQL(" UNION ALL ").join(
            sql.SQL("SELECT subscriber, {L}, {date} AS date FROM ({q}) v").format(
                L=L, date=timestamp_literal(_window(loc)[0]), q=loc.get_query(ctx)
            )
            for loc in self.locations
        )
        return sql.SQL(
            """SELECT DISTINCT ON (subscriber) subscriber, {L}
               FROM (SELECT subscriber, {L}, count(*) AS votes, max(date) AS latest
                     FROM ({votes}) u GROUP BY subscriber, {L}) g
               ORDER BY subscriber, votes DESC, latest DESC, {L_desc}"""
        ).format(L=L, L_desc=identifiers(self.location_columns, suffix=" DESC"), votes=votes)
