"""The sign-in throttle (ours: FlowKit has none), on two rate counters (`ratelimit.py`): failures per username
and failures per client address.

An attempt is counted as a failure of both *before* the password is checked (`begin`), in one atomic statement
per counter, so however many attempts arrive at once, exactly `sign_in_max_failures` of them are checked per
window of `sign_in_window_seconds`; the others get 429 with `retry_after` (the seconds until the window ends).
The counter of the username is hit first; an attempt refused by the address counter gives its username hit back.
A successful sign-in clears its username's counter and takes as many hits off its address's (`succeeded`: the
username's failures, this attempt included, are forgiven there too); an attempt that turned out not to be a
guess (a missing two-factor code) gives both hits back (`cancel`).
`sign_in_max_failures = 0` turns the throttle off.

    attempt = begin(session, settings, username, address)     # raises 429 when locked
    ... check the password; on a wrong one just raise: the failure is counted already
    succeeded(session, settings, attempt)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from flowauth import ratelimit
from flowauth.errors import ApiError
from flowauth.settings import Settings

_USERNAME_LENGTH = 75
_ADDRESS_LENGTH = 64


@dataclass(frozen=True)
class Attempt:
    username: str
    address: str


def _limits(settings: Settings) -> tuple[ratelimit.Limit, ratelimit.Limit]:
    def limit(bucket: str) -> ratelimit.Limit:
        return ratelimit.Limit(
            bucket, settings.sign_in_max_failures, settings.sign_in_window_seconds
        )

    return limit("sign-in-user"), limit("sign-in-address")


def too_many(wait: int) -> ApiError:
    return ApiError(
        f"Too many failed sign-in attempts. Try again in {wait} seconds.", 429, retry_after=wait
    )


def begin(
    session: Session,
    settings: Settings,
    username: str,
    address: str,
    now: dt.datetime | None = None,
) -> Attempt:
    """Count an attempt as a failure of `username` and of `address`; 429 (nothing counted) when either is locked."""
    by_user, by_address = _limits(settings)
    attempt = Attempt(username[:_USERNAME_LENGTH], address[:_ADDRESS_LENGTH])
    wait = ratelimit.hit(session, by_user, attempt.username, now)
    if wait:
        raise too_many(wait)
    wait = ratelimit.hit(session, by_address, attempt.address, now)
    if wait:
        ratelimit.give_back(session, by_user, attempt.username)
        raise too_many(wait)
    return attempt


def succeeded(session: Session, settings: Settings, attempt: Attempt) -> None:
    """The password (and code) were right: the username's failures are forgotten, here and at the address (as
    many hits as the username had: an attacker's own account cannot wipe the failures of other usernames)."""
    by_user, by_address = _limits(settings)
    forgiven = ratelimit.clear(session, by_user, attempt.username)
    ratelimit.give_back(session, by_address, attempt.address, max(forgiven, 1))


def cancel(session: Session, settings: Settings, attempt: Attempt) -> None:
    """The attempt was no guess (e.g. the two-factor code is still to come): neither counter keeps it."""
    by_user, by_address = _limits(settings)
    ratelimit.give_back(session, by_user, attempt.username)
    ratelimit.give_back(session, by_address, attempt.address)


def seconds_locked(
    session: Session,
    settings: Settings,
    username: str,
    address: str,
    now: dt.datetime | None = None,
) -> int:
    """Without counting anything: how long until `username` may try again from `address` (0: now)."""
    by_user, by_address = _limits(settings)
    return max(
        ratelimit.seconds_locked(session, by_user, username[:_USERNAME_LENGTH], now),
        ratelimit.seconds_locked(session, by_address, address[:_ADDRESS_LENGTH], now),
    )
