"""Minting and renewing tokens within the limits of a server and the roles chosen.

A token's expiry is the earliest of the server's cap and each chosen role's cap (`next_expiry`: the absolute
`latest_token_expiry`, if any, or now + `longest_token_life_minutes`, whichever comes first); the caller may
ask for less with `lifetime_minutes`. The JWT (`flowkit_jwt_generator.generate_token`, RS256, compressed
roles as FlowAPI 1.34 reads them) has `aud` = the server's name, `sub` = the username and the roles as
{role name: sorted scope names}, plus (ours) the `privacy` claim when a chosen role sets privacy limits
(flowauth.privacy_limits). Each token is kept, encrypted, with the roles it carries, so it can be listed
and renewed.

Roles are always looked up among the caller's own roles on the token's server (FlowKit matched names alone,
so a same-named role of another server could be used).

Each user may mint (or renew) at most `token_mint_max` tokens per `token_mint_window_seconds` (ours): a rate
counter in the database (`ratelimit.py`), so the limit holds across threads, workers and restarts; `rate_limited`
counts a mint and takes the count back when the mint is refused.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import jwt
from sqlalchemy import select
from sqlalchemy.orm import Session

from flowauth import ratelimit
from flowauth.crypto import SecretBox
from flowauth.dates import format_date
from flowauth.errors import ApiError, bad_request, forbidden, not_found
from flowauth.models import Role, Server, TokenHistory, User, users_with_roles, utcnow
from flowauth.payload import valid_id, whole_number
from flowauth.privacy_limits import privacy_claim
from flowauth.settings import Settings
from flowkit_jwt_generator import generate_token
from flowkit_jwt_generator.jwt import decompress_claims


@dataclass(frozen=True)
class Minted:
    record: TokenHistory
    token: str


def mint_limit(settings: Settings) -> ratelimit.Limit:
    return ratelimit.Limit("mint-user", settings.token_mint_max, settings.token_mint_window_seconds)


@contextmanager
def rate_limited(session: Session, settings: Settings, user: User) -> Iterator[None]:
    """Count one mint of `user` (429 with `retry_after` past the limit); a refused mint (ApiError) is not
    counted. Commits the session on entry: use it before anything else changes."""
    limit = mint_limit(settings)
    wait = ratelimit.hit(session, limit, str(user.id))
    if wait:
        raise ApiError(
            f"Too many tokens minted: try again in {wait} seconds.", 429, retry_after=wait
        )
    try:
        yield
    except ApiError:
        session.rollback()
        ratelimit.give_back(session, limit, str(user.id))
        raise


def roles_held(session: Session, user: User, server: Server) -> list[Role]:
    """The roles `user` holds on `server`, by name."""
    return list(
        session.scalars(
            select(Role)
            .join(users_with_roles, users_with_roles.c.role_id == Role.id)
            .where(users_with_roles.c.user_id == user.id, Role.server_id == server.id)
            .order_by(Role.name)
        )
    )


def chosen_roles(session: Session, user: User, server: Server, names: Sequence[str]) -> list[Role]:
    """The caller's roles of these names on `server`; 403 for a name that is not one of them."""
    held = {role.name: role for role in roles_held(session, user, server)}
    for name in names:
        if name not in held:
            raise forbidden(
                f"Role '{name}' is not permitted for the current user", bad_field="roles"
            )
    return [held[name] for name in dict.fromkeys(names)]


def latest_expiry(server: Server, roles: Sequence[Role], now: dt.datetime) -> dt.datetime:
    """The latest a token of these roles on this server may expire, from `now`."""
    return min([server.next_expiry(now), *(role.next_expiry(now) for role in roles)])


def _limiting(server: Server, roles: Sequence[Role], now: dt.datetime) -> str:
    """Which cap sets the expiry, for messages."""
    expiry = latest_expiry(server, roles, now)
    for role in roles:
        if role.next_expiry(now) == expiry:
            return f"role '{role.name}'"
    return f"server '{server.name}'"


def expiry_for(
    user: User,
    server: Server,
    roles: Sequence[Role],
    lifetime_minutes: object,
    now: dt.datetime,
) -> dt.datetime:
    """The expiry of a new token: the caps' minimum, or now + lifetime_minutes when that is earlier.

    400 when the caps have passed already (FlowKit: "Token for <user> expired") or when the lifetime asked
    for is not a positive whole number of minutes or goes past the caps.
    """
    latest = latest_expiry(server, roles, now)
    if latest <= now:
        raise bad_request(
            f"Token for {user.username} expired: the latest expiry allowed by "
            f"{_limiting(server, roles, now)} ({format_date(latest)}) has passed.",
            bad_field="roles",
        )
    if lifetime_minutes is None:
        return latest
    minutes = whole_number(lifetime_minutes, "lifetime_minutes")
    allowed = int((latest - now).total_seconds() // 60)
    if minutes > allowed:
        raise bad_request(
            f"Requested lifetime exceeds the maximum permitted: at most {allowed} minutes "
            f"(until {format_date(latest)}, set by {_limiting(server, roles, now)}).",
            bad_field="lifetime_minutes",
        )
    return now + dt.timedelta(minutes=minutes)


def _issue(
    session: Session,
    settings: Settings,
    box: SecretBox,
    user: User,
    server: Server,
    roles: Sequence[Role],
    name: str,
    expiry: dt.datetime,
    now: dt.datetime,
) -> Minted:
    token = generate_token(
        flowapi_identifier=server.name,
        username=user.username,
        private_key=settings.private_jwt_signing_key,
        lifetime=expiry - now,
        roles={role.name: sorted(scope.name for scope in role.scopes) for role in roles},
        compress=True,
        privacy=privacy_claim(roles),
    )
    record = TokenHistory(
        name=name,
        token_encrypted=box.seal(token),
        expiry=expiry,
        created=now,
        owner=user,
        server=server,
        roles=list(roles),
    )
    session.add(record)
    session.flush()
    return Minted(record, token)


def mint(
    session: Session,
    settings: Settings,
    box: SecretBox,
    user: User,
    server: Server,
    name: str,
    role_names: Sequence[str],
    lifetime_minutes: object = None,
) -> Minted:
    """A new token for `user` on `server` carrying the named roles (the caller commits)."""
    now = utcnow()
    roles = chosen_roles(session, user, server, role_names)
    expiry = expiry_for(user, server, roles, lifetime_minutes, now)
    return _issue(session, settings, box, user, server, roles, name, expiry, now)


def _original_role_names(box: SecretBox, record: TokenHistory) -> set[str]:
    """The role names written in the stored token (roles deleted since are gone from `record.roles`)."""
    try:
        claims = jwt.decode(box.open(record.token_encrypted), options={"verify_signature": False})
        roles = decompress_claims(claims["user_claims"])
        return {str(name) for name in roles} if isinstance(roles, dict) else set()
    except Exception:  # a token we cannot read back only loses this extra check
        return set()


def renew(
    session: Session,
    settings: Settings,
    box: SecretBox,
    user: User,
    token_id: int,
    lifetime_minutes: object = None,
) -> Minted:
    """A new token with the name and roles of the caller's token `token_id` (expired ones too).

    404 if the token is not the caller's; 400 if it has no recorded roles (made before roles were recorded);
    403 if the caller no longer holds every one of its roles on that server.
    """
    record = session.get(TokenHistory, token_id) if valid_id(token_id) else None
    if record is None or record.user_id != user.id:
        raise not_found(f"No token with id {token_id}.")
    if not record.roles:
        raise bad_request(
            "This token has no recorded roles, so it cannot be renewed: create a new token instead."
        )
    held = {role.id for role in roles_held(session, user, record.server)}
    lost = {role.name for role in record.roles if role.id not in held}
    original = _original_role_names(box, record)
    if len(original) > len(record.roles):  # some of its roles were deleted since
        lost |= original - {role.name for role in record.roles}
    if lost:
        missing = sorted(lost)
        raise forbidden(
            "You no longer hold every role of this token: " + ", ".join(missing) + ".",
            missing_roles=missing,
        )
    now = utcnow()
    roles = list(record.roles)
    expiry = expiry_for(user, record.server, roles, lifetime_minutes, now)
    return _issue(session, settings, box, user, record.server, roles, record.name, expiry, now)
