"""Server-side records of signed-in sessions (`login_session`), so that a session can be ended everywhere.

The session cookie holds a random key; the row keyed by the key's SHA-256 must exist and have been seen within
`idle` (plus the `TOUCH_SECONDS` its `last_seen` may lag behind) for the cookie to count. Signing out deletes the
row, a password change or an admin's reset deletes the user's other rows, deleting the user deletes them all
(foreign key cascade): every copy of such a cookie then counts as signed out. Rows of sessions left to idle out are
pruned at each sign-in.

    key = start(session, user_id)            # the caller commits, then puts `key` in the cookie
    row = find(session, key, idle)           # None: not (or no longer) signed in
    end(session, key); end_all(session, user_id, keep=key)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from flowauth.models import LoginSession, utcnow

# `last_seen` is written at most this often per session (not on every request).
TOUCH_SECONDS = 60


def _row_id(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()


def _cutoff(idle: dt.timedelta, now: dt.datetime) -> dt.datetime:
    return now - idle - dt.timedelta(seconds=TOUCH_SECONDS)


def start(session: Session, user_id: int, now: dt.datetime | None = None) -> str:
    """A new session of `user_id` (the caller commits); returns the key for the cookie."""
    now = now or utcnow()
    key = secrets.token_urlsafe(32)
    session.add(LoginSession(id=_row_id(key), user_id=user_id, created=now, last_seen=now))
    return key


def find(
    session: Session, key: object, idle: dt.timedelta, now: dt.datetime | None = None
) -> LoginSession | None:
    """The live session of `key`, its `last_seen` brought up to date (committed) when it lags; None otherwise."""
    if not isinstance(key, str) or not key:
        return None
    now = now or utcnow()
    row = session.get(LoginSession, _row_id(key))
    if row is None or row.last_seen < _cutoff(idle, now):
        return None
    if (now - row.last_seen).total_seconds() >= TOUCH_SECONDS:
        # a statement, not the ORM: the row may be deleted meanwhile (a sign-out in another tab)
        session.execute(
            update(LoginSession).where(LoginSession.id == row.id).values(last_seen=now),
            execution_options={"synchronize_session": False},
        )
        session.commit()
    return row


def end(session: Session, key: object) -> None:
    """End the session of `key` (the caller commits)."""
    if isinstance(key, str) and key:
        session.execute(delete(LoginSession).where(LoginSession.id == _row_id(key)))


def end_all(session: Session, user_id: int, keep: object = None) -> None:
    """End every session of `user_id` but the one of `keep` (the caller commits)."""
    query = delete(LoginSession).where(LoginSession.user_id == user_id)
    if isinstance(keep, str) and keep:
        query = query.where(LoginSession.id != _row_id(keep))
    session.execute(query)


def prune(session: Session, idle: dt.timedelta, now: dt.datetime | None = None) -> None:
    """Delete the rows of sessions that have idled out (the caller commits)."""
    session.execute(
        delete(LoginSession).where(LoginSession.last_seen < _cutoff(idle, now or utcnow()))
    )
