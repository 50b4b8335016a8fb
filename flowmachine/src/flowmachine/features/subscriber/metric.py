"""What per-subscriber metrics (`subscriber, value`) over one window of events share."""

from __future__ import annotations

import datetime as dt

from flowmachine.core.query import Query


class SubscriberMetric(Query):
    """A query with one row per subscriber: `subscriber, value`."""

    start: dt.datetime
    stop: dt.datetime

    @property
    def column_names(self) -> list[str]:
        return ["subscriber", "value"]
