"""Rules about user accounts shared by the admin routes and the user's own settings.

- A password set through the app must pass `password_problem` (zxcvbn score 4, at most MAX_PASSWORD_LENGTH).
- Setting a password or removing two-factor ends the user's sessions (`login_sessions`), except the one
  that made the change (`keep`).
- There is always at least one administrator.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from flowauth import login_sessions
from flowauth.crypto import hash_secret, password_problem
from flowauth.errors import bad_request
from flowauth.models import User

MAX_USERNAME_LENGTH = 75


def checked_password(password: object, field: str = "password") -> str:
    """`password` if it is strong enough; 400 with FlowKit's message otherwise."""
    if password is not None and not isinstance(password, str):
        raise bad_request(f"{field} must be a string.", bad_field=field)
    problem = password_problem(password)
    if problem is not None:
        raise bad_request(problem, bad_field=field)
    assert isinstance(password, str)
    return password


def set_password(session: Session, user: User, password: str, keep: str | None = None) -> None:
    """Store a (checked) password; the user's sessions but `keep` end (the caller commits)."""
    user.password_hash = hash_secret(password)
    end_sessions(session, user, keep)


def end_sessions(session: Session, user: User, keep: str | None = None) -> None:
    """End every session of `user` but the one whose key is `keep` (the caller commits)."""
    login_sessions.end_all(session, user.id, keep)


def username_taken(session: Session, username: str, except_id: int | None = None) -> bool:
    query = select(User.id).where(User.username == username)
    if except_id is not None:
        query = query.where(User.id != except_id)
    return session.scalars(query).first() is not None


def is_last_admin(session: Session, user: User) -> bool:
    """Whether `user` is the only administrator."""
    if not user.is_admin:
        return False
    admins = session.scalar(select(func.count()).select_from(User).where(User.is_admin))
    return (admins or 0) <= 1
