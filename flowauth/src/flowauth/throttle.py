"""The sign-in throttle (ours: FlowKit has none), kept in the `sign_in_failure` table.

After `sign_in_max_failures` failed sign-ins for one username, or from one client address, within
`sign_in_window_seconds`, further attempts are refused with 429 until enough failures have left the window
(`retry_after` says when). A successful sign-in clears its username's failures. Rows older than the window are
pruned whenever a failure is written. `sign_in_max_failures = 0` turns the throttle off.

    check(session, settings, username, address)           # raises 429 when locked
    record_failure(session, settings, username, address)   # caller commits
    clear(session, username)
"""

from __future__ import annotations

import datetime as dt
import math

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from flowauth.errors import ApiError
from flowauth.models import SignInFailure, utcnow
from flowauth.settings import Settings

_USERNAME_LENGTH = 75
_ADDRESS_LENGTH = 64


def _key(value: str, length: int) -> str:
    return value[:length]


def seconds_locked(
    session: Session,
    settings: Settings,
    username: str,
    address: str,
    now: dt.datetime | None = None,
) -> int:
    """How many seconds until a sign-in for `username` from `address` may be tried again (0: now)."""
    limit = settings.sign_in_max_failures
    if limit <= 0:
        return 0
    now = now or utcnow()
    window = dt.timedelta(seconds=settings.sign_in_window_seconds)
    wait = 0.0
    for column, value in (
        (SignInFailure.username, _key(username, _USERNAME_LENGTH)),
        (SignInFailure.address, _key(address, _ADDRESS_LENGTH)),
    ):
        times = list(
            session.scalars(
                select(SignInFailure.at)
                .where(column == value, SignInFailure.at > now - window)
                .order_by(SignInFailure.at)
            )
        )
        if len(times) >= limit:
            # Attempts resume once all but limit - 1 of these failures have left the window.
            unlocks_at = times[len(times) - limit] + window
            wait = max(wait, (unlocks_at - now).total_seconds())
    return max(1, math.ceil(wait)) if wait > 0 else 0


def check(
    session: Session,
    settings: Settings,
    username: str,
    address: str,
    now: dt.datetime | None = None,
) -> None:
    """429 (with `retry_after` seconds and a Retry-After header) while sign-ins are locked."""
    wait = seconds_locked(session, settings, username, address, now)
    if wait:
        raise ApiError(
            f"Too many failed sign-in attempts. Try again in {wait} seconds.",
            429,
            retry_after=wait,
        )


def record_failure(
    session: Session,
    settings: Settings,
    username: str,
    address: str,
    now: dt.datetime | None = None,
) -> None:
    if settings.sign_in_max_failures <= 0:
        return
    now = now or utcnow()
    session.execute(
        delete(SignInFailure).where(
            SignInFailure.at <= now - dt.timedelta(seconds=settings.sign_in_window_seconds)
        )
    )
    session.add(
        SignInFailure(
            username=_key(username, _USERNAME_LENGTH),
            address=_key(address, _ADDRESS_LENGTH),
            at=now,
        )
    )


def clear(session: Session, username: str) -> None:
    """Forget the failures of `username` (after it signed in)."""
    session.execute(
        delete(SignInFailure).where(SignInFailure.username == _key(username, _USERNAME_LENGTH))
    )
