"""Roles (admins only): `/roles/...`.

A role belongs to one server; its scopes must be that server's and its caps may not exceed the server's.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from sqlalchemy import select

from flowauth.dates import parse_date
from flowauth.db import request_session
from flowauth.errors import ApiError, bad_request, not_found
from flowauth.models import Role, Scope, Server, User
from flowauth.payload import id_list, json_object, text, valid_id, whole_number
from flowauth.privacy_limits import FIELDS as PRIVACY_FIELDS
from flowauth.privacy_limits import set_limits
from flowauth.records import by_ids, get_or_404
from flowauth.shapes import role_dict
from flowauth.web import admin_required

bp = Blueprint("roles", __name__, url_prefix="/roles")

MAX_ROLE_NAME = 75
_EDITABLE = {
    "name",
    "users",
    "scopes",
    "latest_token_expiry",
    "longest_token_life_minutes",
    *PRIVACY_FIELDS,  # ours: differential-privacy limits (flowauth.privacy_limits)
}


def _name(body: dict[str, Any], server: Server, role_id: int | None) -> str:
    name = text(
        body,
        "name",
        max_length=MAX_ROLE_NAME,
        missing="Role name cannot be blank.",
        too_long=f"Role name must be {MAX_ROLE_NAME} characters or less.",
    )
    clash = select(Role.id).where(Role.name == name, Role.server_id == server.id)
    if role_id is not None:
        clash = clash.where(Role.id != role_id)
    if request_session().scalars(clash).first() is not None:
        # FlowKit's answer to the unique constraint, with the field named
        raise ApiError(
            "Name already exists",
            400,
            bad_field="name",
            status=400,
            statusText="Name already exists",
        )
    return name


def _scopes(body: dict[str, Any], server: Server) -> list[Scope]:
    scopes = by_ids(request_session(), Scope, id_list(body, "scopes") or [], "scopes")
    if any(scope.server_id != server.id for scope in scopes):
        raise bad_request("Scope server must match role server", bad_field="scopes")
    return scopes


def _expiry(body: dict[str, Any], server: Server) -> Any:
    expiry = parse_date(body.get("latest_token_expiry"), "latest_token_expiry")
    if (
        expiry is not None
        and server.latest_token_expiry is not None
        and expiry > server.latest_token_expiry
    ):
        raise bad_request(
            "Role cannot exist past latest token in server", bad_field="latest_token_expiry"
        )
    return expiry


def _life(body: dict[str, Any], server: Server) -> int:
    life = whole_number(body.get("longest_token_life_minutes"), "longest_token_life_minutes")
    if life > server.longest_token_life_minutes:
        raise bad_request(
            "Role cannot have a maximum lifetime greater than server",
            bad_field="longest_token_life_minutes",
        )
    return life


@bp.get("/")
@admin_required
def list_roles() -> list[dict[str, Any]]:
    return [role_dict(role) for role in request_session().scalars(select(Role).order_by(Role.id))]


@bp.get("/user/<int:user_id>")
@admin_required
def list_user_roles(user_id: int) -> list[dict[str, Any]]:
    user = get_or_404(request_session(), User, user_id)
    return [role_dict(role) for role in user.roles]


@bp.get("/server/<int:server_id>/user/<int:user_id>")
@admin_required
def list_user_roles_on_server(server_id: int, user_id: int) -> list[dict[str, Any]]:
    session = request_session()
    server = get_or_404(session, Server, server_id)
    user = get_or_404(session, User, user_id)
    return [role_dict(role) for role in user.roles if role.server_id == server.id]


@bp.get("/<int:role_id>")
@admin_required
def get_role(role_id: int) -> dict[str, Any]:
    return role_dict(get_or_404(request_session(), Role, role_id))


@bp.post("/")
@admin_required
def add_role() -> dict[str, Any]:
    body = json_object()
    session = request_session()
    server_id = body.get("server_id")
    if not isinstance(server_id, int) or isinstance(server_id, bool):
        raise bad_request("server_id must be the id of a server.", bad_field="server_id")
    server = session.get(Server, server_id) if valid_id(server_id) else None
    if server is None:
        raise not_found(f"No server with id {server_id}.", bad_field="server_id")
    role = Role(
        name=_name(body, server, None),
        server=server,
        scopes=_scopes(body, server),
        users=by_ids(session, User, id_list(body, "users") or [], "users"),
        latest_token_expiry=_expiry(body, server),
        longest_token_life_minutes=_life(body, server),
    )
    set_limits(role, body)
    session.add(role)
    session.commit()
    return role_dict(role)


@bp.patch("/<int:role_id>")
@admin_required
def edit_role(role_id: int) -> dict[str, Any]:
    """Only the keys sent change; answers the edited role (FlowKit answered every role)."""
    session = request_session()
    role = get_or_404(session, Role, role_id)
    server = role.server
    body = json_object()
    for key in body:
        if key not in _EDITABLE | {"id"}:
            raise bad_request(f"Invalid key {key}", bad_field=key)
    if "name" in body:
        role.name = _name(body, server, role.id)
    if "users" in body:
        role.users = by_ids(session, User, id_list(body, "users") or [], "users")
    if "scopes" in body:
        role.scopes = _scopes(body, server)
    if "latest_token_expiry" in body:
        role.latest_token_expiry = _expiry(body, server)
    if "longest_token_life_minutes" in body:
        role.longest_token_life_minutes = _life(body, server)
    set_limits(role, body)
    session.commit()
    return role_dict(role)


@bp.delete("/<int:role_id>")
@admin_required
def delete_role(role_id: int) -> dict[str, str]:
    session = request_session()
    session.delete(get_or_404(session, Role, role_id))
    session.commit()
    return {"state": "done"}


@bp.get("/<int:role_id>/members")
@admin_required
def role_members(role_id: int) -> list[dict[str, Any]]:
    role = get_or_404(request_session(), Role, role_id)
    return [{"name": user.username, "id": user.id} for user in role.users]


@bp.get("/<int:role_id>/scopes")
@admin_required
def role_scopes(role_id: int) -> list[dict[str, Any]]:
    role = get_or_404(request_session(), Role, role_id)
    return [{"name": scope.name, "id": scope.id} for scope in role.scopes]
