"""The JSON shapes of rows, as FlowKit's routes answer them (plus the few fields we add, marked)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flowauth.dates import format_date
from flowauth.models import Role, Server, TokenHistory, User, utcnow
from flowauth.privacy_limits import limits_dict


def role_dict(role: Role) -> dict[str, Any]:
    """FlowKit's `Role.to_dict`: scope ids and member ids, sorted."""
    return {
        "id": role.id,
        "name": role.name,
        "scopes": sorted(scope.id for scope in role.scopes),
        "latest_token_expiry": format_date(role.latest_token_expiry),
        "longest_token_life_minutes": role.longest_token_life_minutes,
        "server": role.server_id,
        "users": sorted(user.id for user in role.users),
        **limits_dict(role),  # ours, only when the role sets privacy limits
    }


def my_role_dict(role: Role, now: dt.datetime | None = None) -> dict[str, Any]:
    """A role as its holder sees it: no member ids; ours: scope names and the cap that applies now."""
    next_expiry = role.next_expiry(now)
    return {
        "id": role.id,
        "name": role.name,
        "scopes": sorted(scope.id for scope in role.scopes),
        "scope_names": sorted(scope.name for scope in role.scopes),
        "latest_token_expiry": format_date(role.latest_token_expiry),
        "longest_token_life_minutes": role.longest_token_life_minutes,
        "server": role.server_id,
        "next_expiry": format_date(next_expiry),
        "expired": next_expiry <= (now or utcnow()),
        **limits_dict(role),
    }


def server_dict(server: Server) -> dict[str, Any]:
    return {
        "id": server.id,
        "name": server.name,
        "longest_token_life_minutes": server.longest_token_life_minutes,
        "latest_token_expiry": format_date(server.latest_token_expiry),
    }


def user_dict(user: User) -> dict[str, Any]:
    """FlowKit's user details; ours: each role also names its server."""
    return {
        "id": user.id,
        "name": user.username,
        "is_admin": user.is_admin,
        "has_two_factor": user.two_factor_enabled,
        "require_two_factor": user.require_two_factor,
        "roles": [
            {
                "id": role.id,
                "name": role.name,
                "server": role.server_id,
                "server_name": role.server.name,
            }
            for role in user.roles
        ],
    }


def token_dict(
    token: TokenHistory, plain_token: str, now: dt.datetime | None = None
) -> dict[str, Any]:
    """FlowKit's token row; ours: `created` and `expired`."""
    return {
        "id": token.id,
        "name": token.name,
        "token": plain_token,
        "expires": format_date(token.expiry),
        "created": format_date(token.created),
        "expired": token.expiry <= (now or utcnow()),
        "server_name": token.server.name,
        "username": token.owner.username,
        "roles": [{"id": role.id, "name": role.name} for role in token.roles],
    }
