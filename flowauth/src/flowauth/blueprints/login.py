"""Signing in and out: `/signin`, `/is_signed_in`, `/signout`, `/version`.

Sign-in as FlowKit's (password, then a TOTP or backup code when two-factor is on), behind the sign-in throttle.
"""

from __future__ import annotations

from flask import Blueprint, request
from sqlalchemy import select

from flowauth import __version__, throttle, two_factor
from flowauth.blueprints import state
from flowauth.crypto import MAX_PASSWORD_LENGTH, verify_secret, waste_verification
from flowauth.db import request_session
from flowauth.errors import bad_request, unauthorized
from flowauth.models import User
from flowauth.payload import json_object
from flowauth.web import (
    allowed_before_two_factor,
    login_required,
    sign_in,
    sign_out,
    signed_in_user,
)

bp = Blueprint("login", __name__)


def _status(user: User) -> dict[str, object]:
    return {
        "logged_in": True,
        "is_admin": user.is_admin,
        "require_two_factor_setup": user.two_factor_setup_required,
    }


def _code_text(code: object) -> str | None:
    """The code as sent; a number (a client that sent the digits as JSON) keeps its leading zeros."""
    if isinstance(code, bool):
        return None
    if isinstance(code, int) and 0 <= code < 1_000_000:
        return f"{code:06d}"
    return code if isinstance(code, str) else None


@bp.post("/signin")
def signin() -> dict[str, object]:
    body = json_object()
    username, password = body.get("username"), body.get("password")
    if not (isinstance(username, str) and username and isinstance(password, str) and password):
        raise bad_request("Must supply username or password.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise bad_request(
            f"Password must be at most {MAX_PASSWORD_LENGTH} characters.", bad_field="password"
        )
    settings = state().settings
    session = request_session()
    # Counted as a failure before the password is checked, so concurrent guesses cannot pass the limit.
    attempt = throttle.begin(session, settings, username, request.remote_addr or "unknown")

    user = session.scalars(select(User).where(User.username == username)).one_or_none()
    if user is None:
        waste_verification(password)
    if user is None or not verify_secret(user.password_hash, password):
        raise unauthorized("Incorrect username or password.")

    auth = user.two_factor_auth
    if auth is not None and auth.enabled:
        code = body.get("two_factor_code")
        if code is None or code == "":
            throttle.cancel(session, settings, attempt)  # the first step of a two-factor sign-in
            raise bad_request("Must supply a two-factor authentication code.", need_two_factor=True)
        code_text = _code_text(code)
        if code_text is None or not two_factor.use_code(
            session, state().box, auth, code_text, settings.two_factor_valid_window
        ):
            raise unauthorized("Code not valid.")

    throttle.succeeded(session, settings, attempt)
    sign_in(user)
    return _status(user)


@bp.get("/is_signed_in")
@login_required
@allowed_before_two_factor
def is_signed_in() -> dict[str, object]:
    user = signed_in_user()
    return {**_status(user), "username": user.username}


@bp.post("/signout")
def signout() -> dict[str, object]:
    sign_out()
    return {"logged_in": False}


@bp.get("/version")
def version() -> dict[str, str]:
    return {"version": __version__}
