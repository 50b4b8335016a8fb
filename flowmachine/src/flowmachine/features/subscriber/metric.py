"""What per-subscriber metrics (`subscriber, value`) over one window of events share."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from flowmachine.core.query import Query


class SubscriberMetric(Query):
    """A query with one row per subscriber: `subscriber, value`."""

    if TYPE_CHECKING:
        # The window of events it is computed over: most subclasses read their input's (FromEvents).
        @property
        def start(self) -> dt.datetime: ...

        @property
        def stop(self) -> dt.datetime: ...

    @property
    def column_names(self) -> list[str]:
        return ["subscriber", "value"]
