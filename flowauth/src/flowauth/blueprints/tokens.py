"""The caller's servers and tokens (any signed-in user): `/tokens/...`.

Everything here is limited to the caller's own roles and tokens.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from sqlalchemy import select

from flowauth import minting
from flowauth.blueprints import state
from flowauth.dates import format_date
from flowauth.db import request_session
from flowauth.errors import bad_request, forbidden
from flowauth.models import Role, Server, TokenHistory, users_with_roles, utcnow
from flowauth.payload import json_object, json_value, text
from flowauth.records import get_or_404
from flowauth.shapes import my_role_dict, token_dict
from flowauth.web import login_required, signed_in_user

bp = Blueprint("tokens", __name__, url_prefix="/tokens")

MAX_TOKEN_NAME = 75


def _role_names(body: dict[str, Any]) -> list[str]:
    """Role names from FlowKit's `[{"name": ...}, ...]` (plain strings accepted too)."""
    if "roles" not in body or body["roles"] is None:
        raise bad_request("No roles.", bad_field="roles")
    roles = body["roles"]
    if not isinstance(roles, list):
        raise bad_request("roles must be a list of {name: <role name>}.", bad_field="roles")
    names = []
    for role in roles:
        name = role.get("name") if isinstance(role, dict) else role
        if not isinstance(name, str) or not name:
            raise bad_request("roles must be a list of {name: <role name>}.", bad_field="roles")
        names.append(name)
    if not names:
        raise bad_request("At least one role must be selected.", bad_field="roles")
    return names


@bp.get("/servers")
@login_required
def my_servers() -> list[dict[str, Any]]:
    user = signed_in_user()
    servers = request_session().scalars(
        select(Server)
        .join(Role, Role.server_id == Server.id)
        .join(users_with_roles, users_with_roles.c.role_id == Role.id)
        .where(users_with_roles.c.user_id == user.id)
        .distinct()
    )
    return sorted(
        ({"id": server.id, "server_name": server.name} for server in servers),
        key=lambda server: server["server_name"],
    )


@bp.get("/servers/<int:server_id>")
@login_required
def my_access(server_id: int) -> dict[str, Any]:
    """Ours (FlowKit's is broken): the caller's roles on the server and the caps that apply now."""
    session = request_session()
    server = get_or_404(session, Server, server_id)
    roles = minting.roles_held(session, signed_in_user(), server)
    if not roles:
        raise forbidden("You hold no roles on this server.")
    now = utcnow()
    return {
        "id": server.id,
        "server_name": server.name,
        "latest_token_expiry": format_date(server.latest_token_expiry),
        "longest_token_life_minutes": server.longest_token_life_minutes,
        "next_expiry": format_date(server.next_expiry(now)),
        "roles": [my_role_dict(role, now) for role in roles],
    }


@bp.get("/tokens/<int:server_id>")
@login_required
def my_tokens(server_id: int) -> list[dict[str, Any]]:
    session = request_session()
    server = get_or_404(session, Server, server_id)
    box = state().box
    now = utcnow()
    tokens = session.scalars(
        select(TokenHistory)
        .where(TokenHistory.user_id == signed_in_user().id, TokenHistory.server_id == server.id)
        .order_by(TokenHistory.id)
    )
    return [token_dict(token, box.open(token.token_encrypted), now) for token in tokens]


@bp.post("/tokens/<int:server_id>")
@login_required
def add_token(server_id: int) -> dict[str, Any]:
    session = request_session()
    server = get_or_404(session, Server, server_id)
    body = json_object()
    name = text(
        body,
        "name",
        max_length=MAX_TOKEN_NAME,
        missing="No name.",
        blank="Token name cannot be blank.",
        too_long=f"Token name must be {MAX_TOKEN_NAME} characters or less.",
    )
    role_names = _role_names(body)
    app, user = state(), signed_in_user()
    with minting.rate_limited(session, app.settings, user):
        minted = minting.mint(
            session,
            app.settings,
            app.box,
            user,
            server,
            name,
            role_names,
            body.get("lifetime_minutes"),
        )
        session.commit()
    return {"token": minted.token, "id": minted.record.id}


@bp.post("/tokens/<int:token_id>/renew")
@login_required
def renew_token(token_id: int) -> dict[str, Any]:
    body = json_value()
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    app, user = state(), signed_in_user()
    session = request_session()
    with minting.rate_limited(session, app.settings, user):
        minted = minting.renew(
            session, app.settings, app.box, user, token_id, body.get("lifetime_minutes")
        )
        session.commit()
    return {"token": minted.token, "id": minted.record.id}
