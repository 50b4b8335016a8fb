"""Dates on the wire: `%Y-%m-%dT%H:%M:%S.%fZ` strings (UTC) in JSON, naive UTC datetimes in the database.

format_date(dt.datetime(2030, 1, 31))          # "2030-01-31T00:00:00.000000Z"
parse_date("2030-01-31T00:00:00.000Z", "latest_token_expiry")
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flowauth.errors import bad_request

DATE_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def format_date(value: dt.datetime | None) -> str | None:
    """The JSON form of a stored (naive UTC) datetime; None stays None (e.g. no absolute cap)."""
    return None if value is None else value.strftime(DATE_FORMAT)


def parse_date(value: Any, field: str) -> dt.datetime | None:
    """A naive UTC datetime from a JSON value; null or "" mean "no date" (None).

    FlowKit's format (`2030-01-31T00:00:00.000000Z`, also what JavaScript's toISOString gives) is expected;
    any ISO 8601 date-time is accepted, a time zone offset converted to UTC, a missing one taken as UTC.
    """
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.strip())
            if parsed.tzinfo is not None:
                parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
            return parsed
        except (ValueError, OverflowError):
            pass
    raise bad_request(
        f"{field} must be a date and time like 2030-01-31T00:00:00.000000Z, or null.",
        bad_field=field,
    )
