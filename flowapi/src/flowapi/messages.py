"""The ZeroMQ messages FlowAPI exchanges with the FlowMachine server, as typed objects.

A request is `{"request_id": str, "action": str, "params": {...}}`; a reply is always
`{"status": "success" | "error", "msg": str, "payload": {...}}` (FlowKit 1.34's shapes, see
reference/protocol.md §4). Query states are an enum, with FlowKit's pseudo-state `awol` for an id no
server knows.
"""

from __future__ import annotations

import enum
import json
import math
from dataclasses import dataclass, field
from typing import Any


class Action(enum.StrEnum):
    PING = "ping"
    GET_AVAILABLE_QUERIES = "get_available_queries"
    GET_QUERY_SCHEMAS = "get_query_schemas"
    RUN_QUERY = "run_query"
    POLL_QUERY = "poll_query"
    GET_QUERY_KIND = "get_query_kind"
    GET_QUERY_PARAMS = "get_query_params"
    GET_SQL_FOR_QUERY_RESULT = "get_sql_for_query_result"
    GET_GEO_SQL_FOR_QUERY_RESULT = "get_geo_sql_for_query_result"
    GET_GEOGRAPHY = "get_geography"
    GET_AVAILABLE_DATES = "get_available_dates"
    GET_AGGREGATION_UNIT = "get_aggregation_unit"
    LIST_QA_CHECKS = "list_qa_checks"
    GET_QA_CHECKS = "get_qa_checks"
    CANCEL_QUERY = "cancel_query"  # ours, for DELETE /api/0/query/<id>


class ReplyStatus(enum.StrEnum):
    SUCCESS = "success"
    ERROR = "error"


class QueryState(enum.StrEnum):
    KNOWN = "known"
    QUEUED = "queued"
    EXECUTING = "executing"
    COMPLETED = "completed"
    ERRORED = "errored"
    CANCELLED = "cancelled"
    RESETTING = "resetting"
    AWOL = "awol"  # no server knows the id

    @classmethod
    def parse(cls, value: Any) -> QueryState | None:
        try:
            return cls(value)
        except ValueError:
            return None


# Seconds a client is told to wait (`Retry-After`) when FlowMachine gives none; and the most we pass on.
DEFAULT_RETRY_AFTER = 5
MAX_RETRY_AFTER = 3600


class MalformedReply(Exception):
    """FlowMachine sent something that is not a reply envelope."""


@dataclass(frozen=True)
class Request:
    request_id: str
    action: Action
    params: dict[str, Any] = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        message = {"request_id": self.request_id, "action": str(self.action), "params": self.params}
        return json.dumps(message).encode()


@dataclass(frozen=True)
class Progress:
    eligible: int = 0
    queued: int = 0
    running: int = 0

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Progress:
        raw = payload.get("progress")
        if not isinstance(raw, dict):
            return cls()
        return cls(*(int(raw.get(k) or 0) for k in ("eligible", "queued", "running")))

    def as_dict(self) -> dict[str, int]:
        return {"eligible": self.eligible, "queued": self.queued, "running": self.running}


@dataclass(frozen=True)
class Reply:
    status: ReplyStatus
    msg: str = ""
    payload: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_bytes(cls, raw: bytes) -> Reply:
        try:
            data = json.loads(raw)
            status = ReplyStatus(data["status"])
            msg, payload = data.get("msg", ""), data.get("payload", {})
        except (ValueError, TypeError, KeyError, RecursionError):
            raise MalformedReply(f"not a FlowMachine reply: {raw[:200]!r}") from None
        if not isinstance(msg, str) or not isinstance(payload, dict):
            raise MalformedReply(f"not a FlowMachine reply: {raw[:200]!r}")
        return cls(status, msg, payload)

    @property
    def ok(self) -> bool:
        return self.status is ReplyStatus.SUCCESS

    @property
    def query_state(self) -> QueryState | None:
        """`payload.query_state` as a state (None when absent or not a state FlowAPI knows)."""
        return QueryState.parse(self.payload.get("query_state"))

    @property
    def progress(self) -> Progress:
        return Progress.from_payload(self.payload)

    @property
    def retry_after(self) -> int | None:
        """For an error reply saying FlowMachine cannot work just now (`payload.unavailable`, e.g. its Redis
        is unreachable): the seconds to wait before trying again (`payload.retry_after`, else 5); else None."""
        if self.ok or not isinstance(self.payload.get("unavailable"), str):
            return None
        seconds = self.payload.get("retry_after")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            return DEFAULT_RETRY_AFTER
        if not math.isfinite(seconds):
            return DEFAULT_RETRY_AFTER
        return min(max(int(seconds), 1), MAX_RETRY_AFTER)
