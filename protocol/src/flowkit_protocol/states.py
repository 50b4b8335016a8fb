"""The query states replies carry in `payload.query_state`, and how each reads in a sentence."""

from __future__ import annotations

from flowkit_protocol.wire_enum import WireEnum


class QueryState(WireEnum):
    KNOWN = "known"
    QUEUED = "queued"
    EXECUTING = "executing"
    COMPLETED = "completed"
    ERRORED = "errored"
    CANCELLED = "cancelled"
    RESETTING = "resetting"
    AWOL = "awol"  # pseudo-state: no server knows the id (never stored)


# How a query's state reads in a sentence: "Query with id '<id>' <description>."
STATE_DESCRIPTIONS: dict[str, str] = {
    QueryState.QUEUED: "is queued",
    QueryState.COMPLETED: "is ready",
    QueryState.CANCELLED: "was cancelled",
    QueryState.EXECUTING: "is currently running",
    QueryState.ERRORED: "finished with an error",
    QueryState.RESETTING: "is being reset",
    QueryState.KNOWN: "is known, but has not yet been run",
    QueryState.AWOL: "is not known",
}


def describe(state: str) -> str:
    """`state` in a sentence ("is queued"); a state not listed reads "is <state>"."""
    return STATE_DESCRIPTIONS.get(state, f"is {state}")
