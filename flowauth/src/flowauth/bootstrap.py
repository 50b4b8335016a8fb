"""The administrator named in the settings (FLOWAUTH_ADMIN_USERNAME / FLOWAUTH_ADMIN_PASSWORD), ensured at start.

As FlowKit's `add_admin`: the user is created, or its password re-set and admin rights given. The password
strength rule is not applied here (the operator chose it), but a weak one is logged as a warning.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from flowauth import login_sessions
from flowauth.crypto import MAX_PASSWORD_LENGTH, hash_secret, password_problem, verify_secret
from flowauth.db import Database
from flowauth.models import User

log = logging.getLogger(__name__)


def ensure_admin(database: Database, username: str, password: str) -> User:
    """Create `username` as an administrator with `password`, or make the existing user one."""
    username = username.strip()
    if not username or not password:
        raise ValueError("the administrator's username and password must not be empty")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValueError(
            f"the administrator's password must be at most {MAX_PASSWORD_LENGTH} characters"
        )
    problem = password_problem(password, [username])
    if problem is not None:
        log.warning("the password of administrator %r is weak: %s", username, problem)
    with database.sessions() as session, session.begin():
        user = session.scalars(select(User).where(User.username == username)).one_or_none()
        if user is None:
            user = User(username=username, password_hash=hash_secret(password), is_admin=True)
            session.add(user)
            log.info("created administrator %r", username)
        else:
            if not verify_secret(user.password_hash, password):
                user.password_hash = hash_secret(password)
                login_sessions.end_all(session, user.id)  # its old sessions end
                log.info("reset the password of administrator %r", username)
            user.is_admin = True
    return user
