"""Errors FlowMachine raises; each says what was wrong in one sentence."""

from __future__ import annotations


class FlowMachineError(Exception):
    """Base class of FlowMachine's own errors."""


class InvalidSpecError(FlowMachineError, ValueError):
    """A query parameter is out of range or inconsistent."""


class MissingDateError(FlowMachineError):
    """No data is available for any day of the requested window."""


class QueryFailedError(FlowMachineError):
    """Computing the query (or a query it depends on) failed; the message says why. `retryable`: it failed
    because FlowDB or Redis was out of reach, so running it again may well succeed."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class QueryCancelledError(FlowMachineError):
    """The query was cancelled while it was queued or running."""


class UnstorableQueryError(FlowMachineError):
    """This kind of query is only ever embedded in others, never stored on its own."""


class StateTimeoutError(FlowMachineError, TimeoutError):
    """Waiting for another process to finish a query took longer than allowed."""
