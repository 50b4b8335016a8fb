"""What can go wrong in a load, as typed exceptions: each says which step failed and why.

A `MalformedInput` is also quarantined (etl.quarantine) with its reason; every `LoadFailed` becomes an
`etl.etl_records` row with state 'failed' (flowetl.records.record_failure).
"""

from __future__ import annotations


class ConfigError(ValueError):
    """A mistake in the configuration file; the message names the path of the bad key."""


class LoadFailed(RuntimeError):
    """A step of the pipeline failed; the day's previous partition (if any) is untouched."""

    step = "load"
    reason = "failed"
    recorded = False  # True once its quarantine rows are written

    def __init__(self, detail: str, *, reason: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if reason is not None:
            self.reason = reason

    def __str__(self) -> str:
        return f"{self.step}: {self.reason}: {self.detail}"


class DataNotPresent(LoadFailed):
    step = "wait_for_data"
    reason = "data not present"


class InFlux(LoadFailed):
    step = "check_not_in_flux"
    reason = "file still being written"


class MalformedInput(LoadFailed):
    """The input cannot be loaded as it is (quarantined): `reason` is one of QUARANTINE_REASONS."""

    step = "extract"

    def __init__(
        self,
        reason: str,
        detail: str,
        *,
        row_number: int | None = None,
        raw: str | None = None,
        step: str | None = None,
    ) -> None:
        super().__init__(detail, reason=reason)
        self.row_number = row_number
        self.raw = raw
        if step is not None:
            self.step = step


# Reasons written to etl.quarantine.reason.
EMPTY = "empty file"
WRONG_COLUMNS = "wrong columns"
UNPARSABLE = "unparsable value"
TRUNCATED = "truncated or corrupt file"
NULL_MSISDN = "null msisdn"
NULL_DATETIME = "null datetime"
OUTSIDE_DAY = "outside the day"
TOO_MANY_BAD_ROWS = "too many bad rows"
QUARANTINE_REASONS = (
    EMPTY,
    WRONG_COLUMNS,
    UNPARSABLE,
    TRUNCATED,
    NULL_MSISDN,
    NULL_DATETIME,
    OUTSIDE_DAY,
    TOO_MANY_BAD_ROWS,
    "data not present",
    "file still being written",
)
