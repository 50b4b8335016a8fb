"""The one definition of what FlowAPI and FlowMachine say to each other over ZeroMQ (FlowKit 1.34's JSON
messages, see docs/developer-guide.md "The protocol package"), plus the settings helpers several components
share. Depends on nothing but the standard library; neither side's code is imported here."""

from flowkit_protocol.actions import Action
from flowkit_protocol.envelope import (
    DEFAULT_RETRY_AFTER,
    MAX_RETRY_AFTER,
    MalformedReply,
    Progress,
    Reply,
    ReplyStatus,
    Request,
    unavailable_reply,
)
from flowkit_protocol.states import QueryState

__all__ = [
    "DEFAULT_RETRY_AFTER",
    "MAX_RETRY_AFTER",
    "Action",
    "MalformedReply",
    "Progress",
    "QueryState",
    "Reply",
    "ReplyStatus",
    "Request",
    "unavailable_reply",
]
