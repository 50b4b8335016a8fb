"""SubscriberHandsetCharacteristic: one characteristic of each subscriber's handset, from the events' TACs.

Each event's TAC is looked up in `infrastructure.tacs` (a TAC missing there has no characteristics).
`last`: the characteristic of the subscriber's last event with a TAC (ties on time: the greater TAC), NULL if
no event has one. `most-common`: the most frequent non-NULL characteristic over the events (ties: the
least value), NULL if none. Every subscriber with events in the window has a row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

from psycopg import sql

from flowmachine.core.errors import InvalidSpecError
from flowmachine.core.query import Query
from flowmachine.features.subscriber.metric import SubscriberMetric
from flowmachine.features.utilities.events_tables_union import EventsTablesUnion, FromEvents

if TYPE_CHECKING:
    from flowmachine.core.context import Context

CHARACTERISTICS = ("hnd_type", "brand", "model", "software_os_name", "software_os_vendor")
METHODS = ("last", "most-common")


class SubscriberHandsetCharacteristic(FromEvents, SubscriberMetric):
    def __init__(
        self,
        start: str | dt.date | dt.datetime,
        stop: str | dt.date | dt.datetime,
        characteristic: str,
        *,
        method: str = "last",
        hours: Sequence[int] | None = None,
        tables: str | Sequence[str] | None = None,
        subscriber_subset: Query | None = None,
    ) -> None:
        if characteristic not in CHARACTERISTICS:
            raise InvalidSpecError(
                f"characteristic must be one of {', '.join(CHARACTERISTICS)}, not {characteristic!r}"
            )
        if method not in METHODS:
            raise InvalidSpecError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
        self.characteristic = characteristic
        self.method = method
        self.events = EventsTablesUnion(
            start,
            stop,
            columns=["datetime", "tac"],
            tables=tables,
            hours=hours,
            subscriber_subset=subscriber_subset,
        )
        super().__init__()

    def _make_query(self, ctx: Context) -> sql.Composable:
        column = sql.Identifier("t", self.characteristic)
        events = self.events.get_query(ctx)
        if self.method == "last":
            return sql.SQL(
                """SELECT DISTINCT ON (e.subscriber) e.subscriber, {column} AS value
                   FROM ({events}) e LEFT JOIN infrastructure.tacs t ON t.id = e.tac
                   ORDER BY e.subscriber, e.tac IS NULL, e.datetime DESC, e.tac DESC"""
            ).format(column=column, events=events)
        return sql.SQL(
            """SELECT e.subscriber, mode() WITHIN GROUP (ORDER BY {column}) AS value
               FROM ({events}) e LEFT JOIN infrastructure.tacs t ON t.id = e.tac
               GROUP BY e.subscriber"""
        ).format(column=column, events=events)
