"""Sessions, the signed-in user, access rules and CSRF protection.

- A session is Flask's signed cookie (`SECRET_KEY`), HttpOnly and SameSite=Lax, holding a random session key
  whose record must exist in the database (`login_sessions`): signing out, a password change and deleting the
  user end the session for every copy of the cookie. It also ends after `session_minutes` without a request (the
  signature's age is checked on every request, every request re-signs it, and the record's `last_seen` must be
  recent too). Signing in always starts a new session key and CSRF token (no fixation).
- CSRF: a random token kept in the session is sent to the browser in the `X-CSRF` cookie on every response;
  every state-changing request (anything but GET, HEAD, OPTIONS), sign-in included, must echo it in the
  `X-CSRF-Token` header. Any GET (e.g. `/version`) gets a client its first token.
- `login_required` answers 401 when nobody is signed in; `admin_required` 403 for a signed-in non-admin.
  A user whose two-factor setup is required may only reach the routes marked `allowed_before_two_factor`
  (FlowKit leaves that to its frontend).
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import Flask, Response, current_app, g, request, session

from flowauth import login_sessions
from flowauth.db import request_session
from flowauth.errors import ApiError, forbidden, unauthorized
from flowauth.models import User

F = TypeVar("F", bound=Callable[..., object])
P = ParamSpec("P")
R = TypeVar("R")
# a view function's mark: a user who must still set up two-factor may use it
_BEFORE_TWO_FACTOR = "_allowed_before_two_factor"

CSRF_COOKIE = "X-CSRF"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SESSION_KEY = "sid"  # the session cookie's entry holding the session key (`login_sessions`)


def _idle() -> dt.timedelta:
    return dt.timedelta(minutes=current_app.extensions["flowauth"].settings.session_minutes)


def sign_in(user: User) -> None:
    """Start a fresh session for `user`: a new session key and CSRF token (no fixation). Commits."""
    db = request_session()
    login_sessions.prune(db, _idle())
    key = login_sessions.start(db, user.id)
    db.commit()
    session.clear()
    session.permanent = True
    session[SESSION_KEY] = key
    session["csrf"] = secrets.token_urlsafe(32)
    g.current_user = user


def sign_out() -> None:
    """End this session, for every copy of its cookie too. Commits."""
    db = request_session()
    login_sessions.end(db, session.get(SESSION_KEY))
    db.commit()
    session.clear()
    session["csrf"] = secrets.token_urlsafe(32)
    g.current_user = None


def session_key() -> str | None:
    """The key of the request's session (what `login_sessions.end_all(..., keep=...)` keeps)."""
    key = session.get(SESSION_KEY)
    return key if isinstance(key, str) else None


def current_user() -> User | None:
    """The signed-in user, or None (a cookie whose session was ended counts as signed out)."""
    if "current_user" not in g:
        user = None
        if SESSION_KEY in session:
            db = request_session()
            record = login_sessions.find(db, session.get(SESSION_KEY), _idle())
            user = db.get(User, record.user_id) if record is not None else None
            if user is None:
                session.pop(SESSION_KEY, None)
        g.current_user = user
    return g.current_user


def signed_in_user() -> User:
    """The signed-in user (401 otherwise); for use inside `login_required` routes."""
    user = current_user()
    if user is None:
        raise unauthorized("You must sign in first.")
    return user


def allowed_before_two_factor(view: F) -> F:
    """Mark a route a user who must still set up two-factor may use."""
    setattr(view, _BEFORE_TWO_FACTOR, True)
    return view


def login_required(view: Callable[P, R]) -> Callable[P, R]:
    @wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        user = signed_in_user()
        if user.two_factor_setup_required and not getattr(view, _BEFORE_TWO_FACTOR, False):
            raise forbidden(
                "Two-factor authentication must be set up first.", need_two_factor_setup=True
            )
        return view(*args, **kwargs)

    setattr(wrapper, _BEFORE_TWO_FACTOR, getattr(view, _BEFORE_TWO_FACTOR, False))
    return wrapper


def admin_required(view: Callable[P, R]) -> Callable[P, R]:
    @login_required
    @wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if not signed_in_user().is_admin:
            raise forbidden("Only administrators may do this.")
        return view(*args, **kwargs)

    return wrapper


def _check_csrf() -> None:
    if request.method in SAFE_METHODS:
        return
    expected = session.get("csrf")
    sent = request.headers.get(CSRF_HEADER, "")
    # bytes: compare_digest refuses str with non-ASCII characters, which a header may hold
    if not expected or not hmac.compare_digest(
        str(expected).encode(), sent.encode("latin-1", "replace")
    ):
        raise ApiError(
            "CSRF token missing or wrong: send the X-CSRF cookie's value in the X-CSRF-Token header.",
            401,
        )


def _set_csrf_cookie(response: Response) -> Response:
    token = session.get("csrf")
    if token is None:
        token = session["csrf"] = secrets.token_urlsafe(32)
    settings = g.get("flowauth_settings")
    response.set_cookie(
        CSRF_COOKIE,
        token,
        samesite="Lax",
        secure=bool(settings and settings.secure_cookies),
        httponly=False,  # the page's script reads it
    )
    return response


def install(app: Flask) -> None:
    """Session cookie settings, the CSRF check before each request and the CSRF cookie after it."""
    state = app.extensions["flowauth"]
    app.secret_key = state.settings.secret_key
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=state.settings.secure_cookies,
        SESSION_REFRESH_EACH_REQUEST=True,
        PERMANENT_SESSION_LIFETIME=state.settings.session_minutes * 60,
    )

    @app.before_request
    def _before() -> None:
        g.flowauth_settings = state.settings
        session.permanent = True
        if request.endpoint != "static":
            _check_csrf()

    app.after_request(_set_csrf_cookie)
