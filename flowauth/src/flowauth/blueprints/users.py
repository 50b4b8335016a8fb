"""Users (admins only): `/admin/users...`, with FlowKit's checks and messages."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from sqlalchemy import select

from flowauth.accounts import (
    MAX_USERNAME_LENGTH,
    checked_password,
    end_sessions,
    is_last_admin,
    set_password,
    username_taken,
)
from flowauth.crypto import hash_secret
from flowauth.db import request_session
from flowauth.errors import bad_request
from flowauth.models import Role, User
from flowauth.payload import flag, id_list, json_object, text
from flowauth.records import by_ids, get_or_404
from flowauth.shapes import user_dict
from flowauth.web import admin_required, session_key

bp = Blueprint("users", __name__, url_prefix="/admin")


def _username(body: dict[str, Any]) -> str:
    return text(
        body,
        "username",
        max_length=MAX_USERNAME_LENGTH,
        missing="Username must be provided.",
        blank="Username too short.",
        too_long=f"Username must be {MAX_USERNAME_LENGTH} characters or less.",
    )


@bp.get("/users")
@admin_required
def list_users() -> list[dict[str, Any]]:
    users = request_session().scalars(select(User).order_by(User.id))
    return [{"id": user.id, "name": user.username} for user in users]


@bp.post("/users")
@admin_required
def add_user() -> dict[str, int]:
    body = json_object()
    session = request_session()
    password = checked_password(body.get("password"))
    username = _username(body)
    if username_taken(session, username):
        raise bad_request("Username already exists.", bad_field="username")
    user = User(
        username=username,
        password_hash=hash_secret(password),
        is_admin=flag(body, "is_admin", False),
        require_two_factor=flag(body, "require_two_factor", False),
        roles=by_ids(session, Role, id_list(body, "roles") or [], "roles"),
    )
    session.add(user)
    session.commit()
    return {"id": user.id}


@bp.get("/users/<int:user_id>")
@admin_required
def get_user(user_id: int) -> dict[str, Any]:
    return user_dict(get_or_404(request_session(), User, user_id))


@bp.patch("/users/<int:user_id>")
@admin_required
def edit_user(user_id: int) -> dict[str, int]:
    """Every key optional: username, password (ignored when null or empty), is_admin, require_two_factor,
    has_two_factor (false removes the user's two-factor), roles (ids; replaces them)."""
    session = request_session()
    user = get_or_404(session, User, user_id)
    body = json_object()
    if "username" in body:
        username = _username(body)
        if username_taken(session, username, except_id=user.id):
            raise bad_request("Username already exists.", bad_field="username")
        user.username = username
    if body.get("password") not in (None, ""):
        # the user's sessions end; an admin who changed their own password stays signed in here
        set_password(session, user, checked_password(body["password"]), keep=session_key())
    is_admin = flag(body, "is_admin")
    if is_admin is False and is_last_admin(session, user):
        raise bad_request(
            "Removing this user's admin rights would leave no admins.", bad_field="is_admin"
        )
    if is_admin is not None:
        user.is_admin = is_admin
    require_two_factor = flag(body, "require_two_factor")
    if require_two_factor is not None:
        user.require_two_factor = require_two_factor
    if flag(body, "has_two_factor") is False and user.two_factor_auth is not None:
        session.delete(user.two_factor_auth)
        user.two_factor_auth = None
        end_sessions(session, user, keep=session_key())
    roles = id_list(body, "roles")
    if roles is not None:
        user.roles = by_ids(session, Role, roles, "roles")
    session.commit()
    return {"id": user.id}


@bp.delete("/users/<int:user_id>")
@admin_required
def delete_user(user_id: int) -> dict[str, str]:
    session = request_session()
    user = get_or_404(session, User, user_id)
    if is_last_admin(session, user):
        raise bad_request("Removing this user would leave no admins.")
    session.delete(user)
    session.commit()
    return {"poll": "OK"}
