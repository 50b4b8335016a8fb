"""The ZeroMQ messages between FlowAPI and the FlowMachine server, as typed objects (FlowKit 1.34's shapes).

A request is `{"request_id": str, "action": str, "params": {...}}` (unknown top-level keys are refused); a reply
is always `{"status": "success" | "error", "msg": str, "payload": {...}}`. Payload parts that several actions
share (a query's progress, an unknown query id, a query in the wrong state) are built here, once.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, post_load

from flowmachine.core.state import QueryState

# The pseudo-state of a query id no server knows (never stored in Redis).
AWOL = "awol"

# How a query's state reads in a sentence: "Query with id '<id>' <description>."
STATE_DESCRIPTIONS: dict[str, str] = {
    QueryState.QUEUED: "is queued",
    QueryState.COMPLETED: "is ready",
    QueryState.CANCELLED: "was cancelled",
    QueryState.EXECUTING: "is currently running",
    QueryState.ERRORED: "finished with an error",
    QueryState.RESETTING: "is being reset",
    QueryState.KNOWN: "is known, but has not yet been run",
    AWOL: "is not known",
}


class ReplyStatus(enum.StrEnum):
    SUCCESS = "success"
    ERROR = "error"


@dataclass(frozen=True)
class ZMQRequest:
    request_id: str
    action: str
    params: dict[str, Any] = field(default_factory=dict)


class _RequestSchema(Schema):
    class Meta:
        unknown = RAISE

    request_id = fields.String(required=True)
    action = fields.String(required=True)
    params = fields.Dict(keys=fields.String(), load_default=dict)

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> ZMQRequest:
        return ZMQRequest(**data)


class InvalidRequest(Exception):
    """The message is not a valid request; `reply` is the error to send back."""

    def __init__(self, reply: ZMQReply) -> None:
        super().__init__(reply.msg)
        self.reply = reply


def parse_request(raw: bytes, known_actions: frozenset[str] | set[str]) -> ZMQRequest:
    """Decode and validate one request message; raise InvalidRequest with FlowKit's error reply."""
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidRequest(
            ZMQReply.error("Invalid JSON.", payload={"decode_error": str(exc)})
        ) from None
    try:
        request: ZMQRequest = _RequestSchema().load(data)
    except ValidationError as exc:
        payload = _stringify_keys(exc.normalized_messages())
        raise InvalidRequest(ZMQReply.error("Invalid action request.", payload=payload)) from None
    if request.action not in known_actions:
        payload = {"action": [f"Unknown action: '{request.action}'."]}
        raise InvalidRequest(ZMQReply.error("Invalid action request.", payload=payload))
    return request


def _stringify_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _stringify_keys(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_stringify_keys(v) for v in value]
    return value


@dataclass(frozen=True)
class ZMQReply:
    status: ReplyStatus
    msg: str = ""
    payload: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def success(cls, payload: dict[str, Any] | None = None, msg: str = "") -> ZMQReply:
        return cls(ReplyStatus.SUCCESS, msg, payload or {})

    @classmethod
    def error(cls, msg: str, payload: dict[str, Any] | None = None) -> ZMQReply:
        return cls(ReplyStatus.ERROR, msg, payload or {})

    def as_dict(self) -> dict[str, Any]:
        return {"status": str(self.status), "msg": self.msg, "payload": self.payload}

    def to_bytes(self) -> bytes:
        return json.dumps(self.as_dict(), default=str).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> ZMQReply:
        data = json.loads(raw)
        return cls(ReplyStatus(data["status"]), data["msg"], data["payload"])


@dataclass(frozen=True)
class Progress:
    """Over a query's storable dependency set (itself included): how many still need computing, and how many
    of those are queued or running now. All zeros once the query is computed."""

    eligible: int = 0
    queued: int = 0
    running: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"eligible": self.eligible, "queued": self.queued, "running": self.running}


def unknown_query_reply(query_id: str) -> ZMQReply:
    return ZMQReply.error(
        f"Unknown query id: '{query_id}'", payload={"query_id": query_id, "query_state": AWOL}
    )


def wrong_state_reply(query_id: str, state: str) -> ZMQReply:
    return ZMQReply.error(
        f"Query with id '{query_id}' {STATE_DESCRIPTIONS.get(state, f'is {state}')}.",
        payload={"query_id": query_id, "query_state": str(state)},
    )


# Seconds a client is asked to wait (FlowAPI's Retry-After) when FlowDB or Redis is out of reach.
UNAVAILABLE_RETRY_AFTER = 5

UNAVAILABLE_MESSAGES = {
    "redis": "FlowMachine cannot reach its query state store (Redis); try again shortly.",
    "flowdb": "FlowMachine cannot reach FlowDB; try again shortly.",
}


def unavailable_reply(service: str) -> ZMQReply:
    """Any action: a service FlowMachine needs is out of reach for now (FlowAPI answers 503, Retry-After)."""
    return ZMQReply.error(
        UNAVAILABLE_MESSAGES[service],
        payload={"unavailable": service, "retry_after": UNAVAILABLE_RETRY_AFTER},
    )


def validation_failed_reply(params: Any, messages: Any) -> ZMQReply:
    """run_query / get_aggregation_unit: the spec failed validation (FlowKit's text and payload)."""
    messages = _stringify_keys(messages)
    text = (
        "Parameter validation failed.\n\n"
        f"The action parameters were:\n{json.dumps(params, indent=2, default=str)}\n\n"
        f"Validation error messages:\n{json.dumps(messages, indent=2, default=str)}\n\n"
    )
    return ZMQReply.error(text, payload={"params": params, "validation_error_messages": messages})
