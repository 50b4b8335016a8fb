"""Who is asking and whether they may: the request's bearer token, and the scopes an action on a query needs
(reference/protocol.md §2). A route calls `authenticate()` first, then `require` or `require_query_access`;
each raises the error FlowKit answers (401/422 for the token, 403 for the scopes, 400 for a spec FlowMachine
refuses)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from quart import g, request

from flowapi.auth import User, bearer_token
from flowapi.errors import bad_request, forbidden
from flowapi.permissions import is_allowed, query_scopes
from flowapi.request_record import request_id
from flowapi.state import state
from flowkit_protocol.payloads import AggregationUnit


def authenticate() -> User:
    """The user of this request's bearer token; raises TokenError (401/422) otherwise."""
    user = state().tokens.user(bearer_token(request.headers.get("Authorization")))
    g.user = user.name
    return user


def require(user: User, action_scopes: Iterable[str], needed: Iterable[str] = ()) -> None:
    """403 unless one of the user's roles holds one of `action_scopes` and every scope in `needed`."""
    if not is_allowed(user, action_scopes, needed):
        raise forbidden()


async def aggregation_unit(spec: dict[str, Any]) -> str | None:
    """FlowMachine's aggregation unit of the top-level query; 400 when it refuses the spec."""
    app_state = state()
    known, unit = app_state.facts.unit(spec)
    if known:
        return unit
    reply = await app_state.flowmachine.get_aggregation_unit(spec, request_id=request_id())
    if not reply.ok:
        raise bad_request(reply.msg, payload=reply.payload)
    unit = AggregationUnit.from_payload(reply.payload).aggregation_unit
    app_state.facts.remember_unit(spec, unit)
    return unit


async def require_query_access(
    user: User, spec: dict[str, Any], action_scopes: Iterable[str]
) -> str | None:
    """Check the user may do `action_scopes` on the query `spec`; its aggregation unit."""
    unit = await aggregation_unit(spec)
    require(user, action_scopes, query_scopes(spec, unit))
    return unit
