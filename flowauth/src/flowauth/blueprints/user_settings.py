"""The caller's own settings: `/user/...` (password, two-factor, roles on a server, password strength)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from flowauth import minting, throttle, two_factor
from flowauth.accounts import checked_password, end_sessions, set_password
from flowauth.blueprints import state
from flowauth.crypto import password_advice, verify_secret
from flowauth.db import request_session
from flowauth.errors import bad_request
from flowauth.models import Server, utcnow
from flowauth.payload import json_object
from flowauth.records import get_or_404
from flowauth.shapes import my_role_dict
from flowauth.web import allowed_before_two_factor, login_required, session_key, signed_in_user

bp = Blueprint("user_settings", __name__, url_prefix="/user")


def _required_text(body: dict[str, Any], key: str, message: str) -> str:
    value = body.get(key)
    if value is None or value == "":
        raise bad_request(message, bad_field=key)
    if not isinstance(value, str):
        raise bad_request(f"{key} must be a string.", bad_field=key)
    return value


@bp.patch("/password")
@login_required
def change_password() -> dict[str, Any]:
    body = json_object()
    if "password" not in body:
        raise bad_request("Missing old password.", bad_field="password")
    if "newPassword" not in body:
        raise bad_request("Missing new password.", bad_field="newPassword")
    old, new = body["password"], body["newPassword"]
    user = signed_in_user()
    session = request_session()
    settings = state().settings
    # Guessing the password from a stolen session is throttled like guessing it at sign-in.
    attempt = throttle.begin(session, settings, user.username, request.remote_addr or "unknown")
    if not isinstance(old, str) or not verify_secret(user.password_hash, old):
        raise bad_request("Password incorrect.", bad_field="password")
    throttle.succeeded(session, settings, attempt)
    if not new:
        raise bad_request("Password not complex enough.", bad_field="newPassword")
    set_password(session, user, checked_password(new, "newPassword"), keep=session_key())
    session.commit()  # this session goes on; the others end
    return {}


@bp.post("/password_strength")
@login_required
def password_strength() -> dict[str, Any]:
    """Ours: zxcvbn's score (0-4; 4 is needed), warning and suggestions, for a strength meter."""
    body = json_object()
    password = body.get("password")
    if password is not None and not isinstance(password, str):
        raise bad_request("password must be a string.", bad_field="password")
    return password_advice(password or "")


@bp.post("/enable_two_factor")
@login_required
@allowed_before_two_factor
def enable_two_factor() -> dict[str, Any]:
    """A new secret and backup codes, signed for `confirm_two_factor`; nothing is stored yet."""
    settings = state().settings
    setup = two_factor.start_setup(
        settings.secret_key, settings.two_factor_issuer, signed_in_user().username
    )
    return setup.as_json()


@bp.post("/confirm_two_factor")
@login_required
@allowed_before_two_factor
def confirm_two_factor() -> dict[str, Any]:
    body = json_object()
    code = _required_text(body, "two_factor_code", "Must supply a two-factor authentication code.")
    signed_secret = _required_text(
        body, "secret", "Must supply a two-factor authentication secret."
    )
    signature = _required_text(body, "backup_codes_signature", "Must supply signed backup codes.")
    settings = state().settings
    try:
        secret = two_factor.read_signed_secret(settings.secret_key, signed_secret)
    except two_factor.SetupError as exc:
        raise bad_request(str(exc), bad_field="secret") from None
    try:
        codes = two_factor.read_backup_codes(settings.secret_key, signature)
    except two_factor.SetupError as exc:
        raise bad_request(str(exc), bad_field="backup_codes_signature") from None
    user = signed_in_user()
    if not two_factor.confirm_setup(
        state().box, user, secret, code, codes, settings.two_factor_valid_window
    ):
        raise bad_request("Code not valid.", bad_field="two_factor_code")
    request_session().commit()
    return {"two_factor_enabled": True}


@bp.post("/disable_two_factor")
@login_required
def disable_two_factor() -> dict[str, Any]:
    user = signed_in_user()
    if user.require_two_factor:
        raise bad_request(
            "Two-factor authentication is required for this account by an administrator."
        )
    if user.two_factor_auth is not None:
        session = request_session()
        session.delete(user.two_factor_auth)
        end_sessions(session, user, keep=session_key())
        session.commit()
    return {"two_factor_enabled": False}


@bp.get("/generate_two_factor_backups")
@login_required
def new_backup_codes() -> dict[str, Any]:
    """Fresh backup codes and their signature; POST the signature back to store them."""
    codes, signature = two_factor.new_backup_codes(state().settings.secret_key)
    return {"backup_codes": codes, "backup_codes_signature": signature}


@bp.post("/generate_two_factor_backups")
@login_required
def store_backup_codes() -> dict[str, Any]:
    body = json_object()
    signature = _required_text(body, "backup_codes_signature", "Must supply signed backup codes.")
    try:
        codes = two_factor.read_backup_codes(state().settings.secret_key, signature)
    except two_factor.SetupError as exc:
        raise bad_request(str(exc), bad_field="backup_codes_signature") from None
    auth = signed_in_user().two_factor_auth
    if auth is None or not auth.enabled:
        raise bad_request("Two-factor authentication is not enabled for this account.")
    two_factor.replace_backup_codes(auth, codes)
    request_session().commit()
    return {"backups_reset": True}


@bp.get("/two_factor_required")
@login_required
@allowed_before_two_factor
def two_factor_required() -> dict[str, bool]:
    return {"require_two_factor": signed_in_user().require_two_factor}


@bp.get("/two_factor_active")
@login_required
@allowed_before_two_factor
def two_factor_active() -> dict[str, bool]:
    return {"two_factor_enabled": signed_in_user().two_factor_enabled}


@bp.get("/roles/server/<int:server_id>")
@login_required
def my_roles_on_server(server_id: int) -> list[dict[str, Any]]:
    """Ours: only the caller's roles, without member ids (FlowKit's listed other users' roles too)."""
    session = request_session()
    server = get_or_404(session, Server, server_id)
    now = utcnow()
    return [
        my_role_dict(role, now) for role in minting.roles_held(session, signed_in_user(), server)
    ]
