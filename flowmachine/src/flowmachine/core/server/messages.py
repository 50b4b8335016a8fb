"""Decoding and validating a request message into a `ZMQRequest` (the envelope, actions, states and reply
shapes themselves are `flowkit_protocol`'s, shared with FlowAPI).

A request is `{"request_id": str, "action": str, "params": {...}}` (unknown top-level keys are refused); a
message that is not one is answered with FlowKit 1.34's error reply, marshmallow's messages in its payload.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields

from flowkit_protocol import Action, Reply
from flowkit_protocol.envelope import stringify_keys


@dataclass(frozen=True)
class ZMQRequest:
    request_id: str
    action: Action
    params: dict[str, Any] = field(default_factory=dict)


class _RequestSchema(Schema):
    class Meta:
        unknown = RAISE

    request_id = fields.String(required=True)
    action = fields.String(required=True)
    params = fields.Dict(keys=fields.String(), load_default=dict)


class InvalidRequest(Exception):
    """The message is not a valid request; `reply` is the error to send back."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.msg)
        self.reply = reply


def parse_request(raw: bytes, known_actions: frozenset[Action] | set[Action]) -> ZMQRequest:
    """Decode and validate one request message; raise InvalidRequest with FlowKit's error reply."""
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidRequest(
            Reply.error("Invalid JSON.", payload={"decode_error": str(exc)})
        ) from None
    try:
        loaded: dict[str, Any] = _RequestSchema().load(data)
    except ValidationError as exc:
        payload = stringify_keys(exc.normalized_messages())
        raise InvalidRequest(Reply.error("Invalid action request.", payload=payload)) from None
    action = Action.parse(loaded["action"])
    if action is None or action not in known_actions:
        payload = {"action": [f"Unknown action: '{loaded['action']}'."]}
        raise InvalidRequest(Reply.error("Invalid action request.", payload=payload))
    return ZMQRequest(loaded["request_id"], action, loaded["params"])
