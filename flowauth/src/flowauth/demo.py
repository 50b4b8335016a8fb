"""Demo data, as FlowKit's `make_demodata` (reference flowauth_autoflow.md A5) but idempotent and for a real FlowAPI.

    server = api_spec.fetch_spec("http://127.0.0.1:9090")    # or demo.read_spec_file(path)
    data = load_demo_data(Database(uri), server)

- A server named for the FlowAPI's audience (`components.securitySchemes.token.x-audience`) with every scope
  the spec publishes (`x-security-scopes`); caps as FlowKit's demo: tokens live at most 31 days, none expires
  later than a year from now.
- Roles `viewer` (`get_result`, `get_available_dates` and every scope with a `:`) and `runner` (`run`,
  `get_available_dates` and every scope with a `:`), each capped at 30 days.
- Users `admin` (an administrator) and `analyst`, both holding both roles, with the strong demo passwords of
  `DEMO_USERS` (FlowKit's demo uses one weak password, DUMMY_PASSWORD, for both).

Re-running updates what is there (the server's scopes follow the spec, the roles' scopes and caps, the users'
passwords, admin flag and roles) and never adds a second copy. Unlike FlowKit's, it never wipes the database.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from flowauth.accounts import set_password
from flowauth.api_spec import ServerSpec, SpecError, read_spec
from flowauth.crypto import hash_secret, verify_secret
from flowauth.db import Database
from flowauth.models import Role, Scope, Server, User, utcnow

SERVER_LIFE_MINUTES = 31 * 24 * 60
SERVER_LATEST_EXPIRY = dt.timedelta(days=365)
ROLE_LIFE_MINUTES = 30 * 24 * 60
ROLE_LATEST_EXPIRY = dt.timedelta(days=30)


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    is_admin: bool


DEMO_USERS = (
    DemoLogin("admin", "Orbit-Lantern-Meadow-42", is_admin=True),
    DemoLogin("analyst", "Harbor-Violet-Compass-17", is_admin=False),
)


@dataclass(frozen=True)
class DemoData:
    server_name: str
    scopes: list[str]
    roles: dict[str, list[str]]
    logins: tuple[DemoLogin, ...]


def read_spec_file(path: str | Path) -> ServerSpec:
    """The server in an OpenAPI spec saved from a FlowAPI (`/api/0/spec/openapi.json`); SpecError if unusable."""
    path = Path(path)
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise SpecError(f"Cannot read the spec file {path}: {exc.strerror or exc}.") from None
    try:
        return read_spec(text)
    except SpecError as exc:
        raise SpecError(f"{path}: {exc}") from None


def role_scopes(scopes: list[str]) -> dict[str, list[str]]:
    """FlowKit's demo roles: what each may do, among `scopes`."""
    available = set(scopes)
    spatial = {s for s in scopes if ":" in s}
    return {
        "viewer": sorted(({"get_result", "get_available_dates"} & available) | spatial),
        "runner": sorted(({"run", "get_available_dates"} & available) | spatial),
    }


def load_demo_data(
    database: Database,
    spec: ServerSpec,
    *,
    users: tuple[DemoLogin, ...] = DEMO_USERS,
    now: dt.datetime | None = None,
) -> DemoData:
    """Create or update the demo server, roles and users for a FlowAPI's spec (migrating the DB first)."""
    name, scopes = spec.name, spec.scopes
    now = now or utcnow()
    wanted_roles = role_scopes(scopes)
    database.upgrade()
    with database.sessions() as session, session.begin():
        server = _upsert_server(session, name, scopes, now)
        roles = [
            _upsert_role(session, server, role_name, role_scope_names, now)
            for role_name, role_scope_names in wanted_roles.items()
        ]
        for login in users:
            _upsert_user(session, login, roles)
    return DemoData(server_name=name, scopes=scopes, roles=wanted_roles, logins=users)


def _upsert_server(session: Session, name: str, scopes: list[str], now: dt.datetime) -> Server:
    server = session.scalars(select(Server).where(Server.name == name)).one_or_none()
    if server is None:
        server = Server(name=name, longest_token_life_minutes=SERVER_LIFE_MINUTES)
        session.add(server)
    server.longest_token_life_minutes = SERVER_LIFE_MINUTES
    server.latest_token_expiry = now + SERVER_LATEST_EXPIRY
    have = {scope.name: scope for scope in server.scopes}
    for scope_name, scope in have.items():
        if scope_name not in scopes:
            session.delete(scope)  # no longer published: FlowAPI would refuse it anyway
        else:
            scope.enabled = True
    for scope_name in scopes:
        if scope_name not in have:
            server.scopes.append(Scope(name=scope_name, enabled=True))
    session.flush()
    return server


def _upsert_role(
    session: Session, server: Server, name: str, scope_names: list[str], now: dt.datetime
) -> Role:
    role = session.scalars(
        select(Role).where(Role.name == name, Role.server_id == server.id)
    ).one_or_none()
    if role is None:
        role = Role(name=name, server=server, longest_token_life_minutes=ROLE_LIFE_MINUTES)
        session.add(role)
    role.longest_token_life_minutes = ROLE_LIFE_MINUTES
    role.latest_token_expiry = now + ROLE_LATEST_EXPIRY
    wanted = set(scope_names)
    role.scopes = [scope for scope in server.scopes if scope.name in wanted]
    session.flush()
    return role


def _upsert_user(session: Session, login: DemoLogin, roles: list[Role]) -> User:
    user = session.scalars(select(User).where(User.username == login.username)).one_or_none()
    if user is None:
        user = User(
            username=login.username,
            password_hash=hash_secret(login.password),
            is_admin=login.is_admin,
            require_two_factor=False,
        )
        session.add(user)
    elif not verify_secret(user.password_hash, login.password):
        set_password(session, user, login.password)  # sessions under the old password end
    user.is_admin = login.is_admin
    for role in roles:
        if role not in user.roles:
            user.roles.append(role)
    session.flush()
    return user
