"""Fixtures for FlowAuth's tests: an app on a fresh SQLite database per test (or a fresh PostgreSQL one, for
tests parametrized over `database_uri`), API clients that handle the CSRF cookie, and `seed` to put users,
servers and roles straight into the database.

    def test_something(admin, seed):
        server = seed.server("TEST_SERVER", scopes=["run"])
        assert admin.get(f"/admin/servers/{server}").status_code == 200
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import pyotp
import pytest
from argon2 import PasswordHasher
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask
from flask.testing import FlaskClient
from psycopg import sql
from sqlalchemy import select
from sqlalchemy.engine import make_url
from werkzeug.test import TestResponse

from flowauth import crypto
from flowauth.app import FlowAuthState, create_app
from flowauth.crypto import hash_code, hash_secret
from flowauth.models import Role, Scope, Server, TwoFactorAuth, TwoFactorBackup, User, utcnow
from flowauth.settings import Settings
from flowdb.cluster import Cluster
from flowdb.testing import temporary_cluster
from flowkit_jwt_generator import generate_keypair, load_private_key, load_public_key

ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "Orbit-Lantern-Meadow-42"
USER_PASSWORD = "Harbor-Violet-Compass-17"


@pytest.fixture(scope="session")
def signing_keys() -> tuple[rsa.RSAPrivateKey, rsa.RSAPublicKey]:
    """One RSA key pair for the session (flowkit_jwt_generator's 4096-bit keys, as FlowKit deploys)."""
    private_pem, public_pem = generate_keypair()
    return load_private_key(private_pem.decode()), load_public_key(public_pem.decode())


@pytest.fixture(autouse=True)
def _fast_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Light argon2 settings in tests (a production hash takes about half a second here)."""
    monkeypatch.setattr(
        crypto, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )
    monkeypatch.setattr(crypto, "_dummy_hash", None)


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Cluster]:
    """A private PostgreSQL cluster on a loopback port, started when a test first needs it."""
    with temporary_cluster() as cluster:
        yield cluster


@pytest.fixture
def postgres_uri(postgres_cluster: Cluster) -> str:
    """A new, empty database in the private cluster."""
    name = f"flowauth_{secrets.token_hex(6)}"
    with postgres_cluster.connect("postgres") as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = make_url(postgres_cluster.settings.url()).set(database=name)
    return url.render_as_string(hide_password=False)


@pytest.fixture
def database_uri(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    """SQLite in tmp_path; `@pytest.mark.parametrize("database_uri", ["sqlite", "postgresql"],
    indirect=True)` runs a test on both."""
    if getattr(request, "param", "sqlite") == "postgresql":
        return request.getfixturevalue("postgres_uri")
    return f"sqlite:///{tmp_path}/flowauth.db"


@pytest.fixture
def settings(
    database_uri: str, signing_keys: tuple[rsa.RSAPrivateKey, rsa.RSAPublicKey]
) -> Settings:
    return Settings(
        private_jwt_signing_key=signing_keys[0],
        fernet_key=Fernet.generate_key(),
        secret_key="test-secret-key",
        admin_username=ADMIN_USERNAME,
        admin_password=ADMIN_PASSWORD,
        db_uri=database_uri,
        # one step of slack, so a code made just before a 30 s boundary still counts
        two_factor_valid_window=1,
    )


@pytest.fixture
def app(settings: Settings) -> Iterator[Flask]:
    app = create_app(settings)
    yield app
    app.extensions["flowauth"].database.dispose()


@pytest.fixture
def state(app: Flask) -> FlowAuthState:
    return app.extensions["flowauth"]


class ApiClient:
    """A test client that, like the browser UI, echoes the X-CSRF cookie in the X-CSRF-Token header."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def csrf_token(self) -> str:
        cookie = self.client.get_cookie("X-CSRF")
        if cookie is None:
            self.client.get("/version")
            cookie = self.client.get_cookie("X-CSRF")
        assert cookie is not None
        return cookie.value

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        return self.client.get(path, **kwargs)

    def send(
        self, method: str, path: str, json: Any = None, *, csrf: bool = True, **kwargs: Any
    ) -> TestResponse:
        headers = dict(kwargs.pop("headers", {}))
        if csrf:
            headers["X-CSRF-Token"] = self.csrf_token()
        if json is not None:
            kwargs["json"] = json
        return self.client.open(path, method=method, headers=headers, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> TestResponse:
        return self.send("POST", path, json, **kwargs)

    def patch(self, path: str, json: Any = None, **kwargs: Any) -> TestResponse:
        return self.send("PATCH", path, json, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> TestResponse:
        return self.send("DELETE", path, **kwargs)

    def sign_in(self, username: str, password: str, code: str | None = None) -> TestResponse:
        body = {"username": username, "password": password}
        if code is not None:
            body["two_factor_code"] = code
        return self.post("/signin", body)


@pytest.fixture
def api(app: Flask) -> Callable[..., ApiClient]:
    """Make a new client (its own cookies); `api(address)` sets the client address."""

    def make(address: str = "127.0.0.1") -> ApiClient:
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = address
        return ApiClient(client)

    return make


@pytest.fixture
def anon(api: Callable[..., ApiClient]) -> ApiClient:
    return api()


@pytest.fixture
def admin(api: Callable[..., ApiClient]) -> ApiClient:
    client = api()
    assert client.sign_in(ADMIN_USERNAME, ADMIN_PASSWORD).status_code == 200
    return client


class Seed:
    """Rows written straight to the database (ids returned), for the state a test starts from."""

    def __init__(self, state: FlowAuthState) -> None:
        self.state = state

    def user(
        self,
        username: str,
        password: str = USER_PASSWORD,
        *,
        is_admin: bool = False,
        require_two_factor: bool = False,
        roles: tuple[int, ...] = (),
    ) -> int:
        with self.state.database.sessions() as session, session.begin():
            user = User(
                username=username,
                password_hash=hash_secret(password),
                is_admin=is_admin,
                require_two_factor=require_two_factor,
                roles=[session.get(Role, role_id) for role_id in roles],
            )
            session.add(user)
            session.flush()
            return user.id

    def server(
        self,
        name: str = "TEST_SERVER",
        *,
        scopes: tuple[str, ...] = ("get_result", "run", "admin0:geography:geography"),
        latest: dt.datetime | None = None,
        life: int = 1440,
    ) -> int:
        with self.state.database.sessions() as session, session.begin():
            server = Server(
                name=name,
                latest_token_expiry=latest,
                longest_token_life_minutes=life,
                scopes=[Scope(name=scope) for scope in scopes],
            )
            session.add(server)
            session.flush()
            return server.id

    def role(
        self,
        server_id: int,
        name: str,
        *,
        scopes: tuple[str, ...] | None = None,
        latest: dt.datetime | None = None,
        life: int = 1440,
        users: tuple[int, ...] = (),
    ) -> int:
        """A role with the named scopes of its server (all of them when `scopes` is None)."""
        with self.state.database.sessions() as session, session.begin():
            server = session.get(Server, server_id)
            assert server is not None
            chosen = [s for s in server.scopes if scopes is None or s.name in scopes]
            role = Role(
                name=name,
                server=server,
                scopes=chosen,
                latest_token_expiry=latest,
                longest_token_life_minutes=life,
                users=[session.get(User, user_id) for user_id in users],
            )
            session.add(role)
            session.flush()
            return role.id

    def two_factor(self, user_id: int, backup_codes: tuple[str, ...] = ()) -> str:
        """Turn two-factor on for a user; returns the TOTP secret."""
        secret = pyotp.random_base32()
        with self.state.database.sessions() as session, session.begin():
            session.add(
                TwoFactorAuth(
                    user_id=user_id,
                    enabled=True,
                    secret_encrypted=self.state.box.seal(secret),
                    backups=[TwoFactorBackup(code_hash=hash_code(code)) for code in backup_codes],
                )
            )
        return secret

    def user_id(self, username: str) -> int:
        with self.state.database.sessions() as session:
            return session.scalars(select(User.id).where(User.username == username)).one()

    def rows(self, model: type, **where: Any) -> list[Any]:
        with self.state.database.sessions() as session:
            query = select(model).filter_by(**where)
            return list(session.scalars(query))


@pytest.fixture
def seed(state: FlowAuthState) -> Seed:
    return Seed(state)


@pytest.fixture
def totp() -> Callable[[str], str]:
    """The current TOTP code of a secret."""
    return lambda secret: pyotp.TOTP(secret).now()


@pytest.fixture
def now() -> dt.datetime:
    return utcnow()
