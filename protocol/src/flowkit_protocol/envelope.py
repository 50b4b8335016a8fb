"""The two message shapes (FlowKit 1.34's): a request `{"request_id": str, "action": str, "params": {...}}`
and a reply `{"status": "success" | "error", "msg": str, "payload": {...}}`; a query's progress, which several
replies carry; and the `unavailable` contract: an error reply whose payload names the service FlowMachine
cannot reach (`{"unavailable": "redis" | "flowdb", "retry_after": 5}`), which FlowAPI answers with 503 and
`Retry-After`."""

from __future__ import annotations

import enum
import json
import math
from dataclasses import dataclass, field
from typing import Any

from flowkit_protocol.actions import Action
from flowkit_protocol.states import QueryState, describe

# Seconds a client is told to wait (`Retry-After`) when FlowMachine cannot work just now (FlowMachine's
# `retry_after`, and FlowAPI's when FlowMachine gives none); and the most FlowAPI passes on.
DEFAULT_RETRY_AFTER = 5
MAX_RETRY_AFTER = 3600

# The services an `unavailable` reply names, and the message it carries.
UNAVAILABLE_MESSAGES: dict[str, str] = {
    "redis": "FlowMachine cannot reach its query state store (Redis); try again shortly.",
    "flowdb": "FlowMachine cannot reach FlowDB; try again shortly.",
}


class ReplyStatus(enum.StrEnum):
    SUCCESS = "success"
    ERROR = "error"


class MalformedReply(Exception):
    """The bytes are not a reply envelope."""


@dataclass(frozen=True)
class Request:
    request_id: str
    action: Action
    params: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"request_id": self.request_id, "action": str(self.action), "params": self.params}

    def to_bytes(self) -> bytes:
        return json.dumps(self.as_dict()).encode()


@dataclass(frozen=True)
class Progress:
    """Over a query's storable dependency set (itself included): how many still need computing, and how many
    of those are queued or running now. All zeros once the query is computed."""

    eligible: int = 0
    queued: int = 0
    running: int = 0

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Progress:
        """`payload.progress` (zeros where absent or not numbers)."""
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
    def success(cls, payload: dict[str, Any] | None = None, msg: str = "") -> Reply:
        return cls(ReplyStatus.SUCCESS, msg, payload or {})

    @classmethod
    def error(cls, msg: str, payload: dict[str, Any] | None = None) -> Reply:
        return cls(ReplyStatus.ERROR, msg, payload or {})

    def as_dict(self) -> dict[str, Any]:
        return {"status": str(self.status), "msg": self.msg, "payload": self.payload}

    def to_bytes(self) -> bytes:
        return json.dumps(self.as_dict(), default=str).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> Reply:
        """Decode a reply; MalformedReply if `raw` is not one."""
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
        """`payload.query_state` as a state (None when absent or not a state)."""
        return QueryState.parse(self.payload.get("query_state"))

    @property
    def progress(self) -> Progress:
        return Progress.from_payload(self.payload)

    @property
    def retry_after(self) -> int | None:
        """For an error reply saying FlowMachine cannot work just now (`payload.unavailable`): the seconds
        to wait before trying again (`payload.retry_after`, else 5, at most an hour); else None."""
        if self.ok or not isinstance(self.payload.get("unavailable"), str):
            return None
        seconds = self.payload.get("retry_after")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            return DEFAULT_RETRY_AFTER
        if not math.isfinite(seconds):
            return DEFAULT_RETRY_AFTER
        return min(max(int(seconds), 1), MAX_RETRY_AFTER)


def unavailable_payload(service: str, retry_after: int = DEFAULT_RETRY_AFTER) -> dict[str, Any]:
    """The payload saying `service` is out of reach: try again in `retry_after` seconds. FlowMachine names
    "redis" or "flowdb"; FlowAPI's own 503 body names "flowmachine" when FlowMachine does not answer."""
    return {"unavailable": service, "retry_after": retry_after}


def unavailable_reply(service: str) -> Reply:
    """Any action: `service` ("redis" or "flowdb"), which FlowMachine needs, is out of reach for now."""
    return Reply.error(UNAVAILABLE_MESSAGES[service], payload=unavailable_payload(service))


def unknown_query_reply(query_id: str) -> Reply:
    """Any action on a query id: no server knows it (query state `awol`)."""
    return Reply.error(
        f"Unknown query id: '{query_id}'",
        payload={"query_id": query_id, "query_state": str(QueryState.AWOL)},
    )


def wrong_state_reply(query_id: str, state: str) -> Reply:
    """get_sql_for_query_result and the like: the query is not (yet) completed."""
    return Reply.error(
        f"Query with id '{query_id}' {describe(state)}.",
        payload={"query_id": query_id, "query_state": str(state)},
    )


def stringify_keys(value: Any) -> Any:
    """`value` with every mapping key a string (validation messages key list items by index)."""
    if isinstance(value, dict):
        return {str(k): stringify_keys(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [stringify_keys(v) for v in value]
    return value


def validation_failed_reply(params: Any, messages: Any) -> Reply:
    """run_query / get_aggregation_unit: the spec failed validation (FlowKit's text and payload)."""
    messages = stringify_keys(messages)
    text = (
        "Parameter validation failed.\n\n"
        f"The action parameters were:\n{json.dumps(params, indent=2, default=str)}\n\n"
        f"Validation error messages:\n{json.dumps(messages, indent=2, default=str)}\n\n"
    )
    return Reply.error(text, payload={"params": params, "validation_error_messages": messages})
