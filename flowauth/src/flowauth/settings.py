"""FlowAuth's settings, read once from the environment (or Docker secrets) and passed to `create_app`.

Every option has FlowKit's name where FlowKit has one (reference: flowauth_autoflow.md A5). A file
`/run/secrets/<NAME>` wins over the environment variable of the same name, as in FlowKit's deployments.
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from flowauth.api_spec import SpecError, origin
from flowauth.crypto import MAX_PASSWORD_LENGTH
from flowkit_jwt_generator import load_private_key
from flowkit_protocol.docker_secrets import SECRETS_DIR
from flowkit_protocol.docker_secrets import lookup as _lookup


class SettingsError(Exception):
    """A required option is missing or an option has a value that cannot be used."""


def _int(env: Mapping[str, str], name: str, default: int, secrets_dir: Path | None) -> int:
    raw = _lookup(env, name, secrets_dir)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if value < 0:
        raise SettingsError(f"{name} must not be negative, got {value}")
    return value


def _origins(raw: str | None) -> frozenset[str]:
    """FLOWAUTH_SPEC_URL_ORIGINS: FlowAPI URLs separated by commas or spaces, kept as their origins."""
    origins = set()
    for url in (raw or "").replace(",", " ").split():
        try:
            origins.add(origin(url))
        except SpecError:
            raise SettingsError(
                f"FLOWAUTH_SPEC_URL_ORIGINS: {url!r} is not an http(s) URL like http://flowapi:9090"
            ) from None
    return frozenset(origins)


@dataclass(frozen=True)
class Settings:
    """What FlowAuth needs to run; docs/flowauth.md lists the environment variable of each field."""

    private_jwt_signing_key: RSAPrivateKey = field(repr=False)
    fernet_key: bytes = field(repr=False)
    secret_key: str = field(repr=False)
    admin_username: str | None = None
    admin_password: str | None = field(default=None, repr=False)
    # SQLAlchemy URL; `{}` in it is replaced by FLOWAUTH_DB_PASSWORD (FlowKit's convention).
    db_uri: str = "sqlite:///flowauth.db"
    two_factor_issuer: str = "FlowAuth"
    two_factor_valid_window: int = 0
    # Sessions end after this many minutes without a request (FlowKit: 20).
    session_minutes: int = 20
    # Sign-in throttle (ours; FlowKit has none): this many failures per username, or per client address,
    # within the window lock further attempts out until the oldest failure leaves the window.
    sign_in_max_failures: int = 5
    sign_in_window_seconds: int = 900
    # Minting limit (ours): at most this many tokens minted or renewed per user within the window (0: none).
    token_mint_max: int = 60
    token_mint_window_seconds: int = 3600
    # The origins (`scheme://host:port`) `POST /admin/servers/spec` may fetch a spec from; none: fetching is off.
    spec_url_origins: frozenset[str] = frozenset()
    # Cookies only over HTTPS (set true behind TLS).
    secure_cookies: bool = False
    demo_mode: bool = False
    reset_db: bool = False
    log_level: str = "error"

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, secrets_dir: Path | None = SECRETS_DIR
    ) -> Settings:
        env = os.environ if env is None else env

        def get(name: str) -> str | None:
            return _lookup(env, name, secrets_dir)

        key_text = get("PRIVATE_JWT_SIGNING_KEY")
        if key_text is None:
            raise SettingsError("PRIVATE_JWT_SIGNING_KEY is not set (an RSA private key in PEM)")
        try:
            private_key = load_private_key(key_text)
        except Exception as exc:
            raise SettingsError(
                f"PRIVATE_JWT_SIGNING_KEY is not an RSA private key in PEM: {exc}"
            ) from None
        fernet_text = get("FLOWAUTH_FERNET_KEY")
        if fernet_text is None:
            raise SettingsError(
                "FLOWAUTH_FERNET_KEY is not set (`flowauth get-fernet` prints a new one)"
            )
        try:
            Fernet(fernet_text.encode())
        except (ValueError, TypeError):
            raise SettingsError(
                "FLOWAUTH_FERNET_KEY is not a Fernet key (32 url-safe base64-encoded bytes)"
            ) from None
        secret_key = get("SECRET_KEY")
        if secret_key is None:
            raise SettingsError("SECRET_KEY is not set (it signs sessions and CSRF tokens)")
        admin_password = get("FLOWAUTH_ADMIN_PASSWORD")
        if admin_password is not None and len(admin_password) > MAX_PASSWORD_LENGTH:
            raise SettingsError(
                f"FLOWAUTH_ADMIN_PASSWORD must be at most {MAX_PASSWORD_LENGTH} characters"
            )
        db_uri = get("DB_URI") or "sqlite:///flowauth.db"
        if "{}" in db_uri:
            db_uri = db_uri.replace("{}", get("FLOWAUTH_DB_PASSWORD") or "")
        return cls(
            private_jwt_signing_key=private_key,
            fernet_key=fernet_text.encode(),
            secret_key=secret_key,
            # FlowKit's docs say FLOWAUTH_ADMIN_USER; its code reads FLOWAUTH_ADMIN_USERNAME: accept both.
            admin_username=get("FLOWAUTH_ADMIN_USERNAME") or get("FLOWAUTH_ADMIN_USER"),
            admin_password=admin_password,
            db_uri=db_uri,
            two_factor_issuer=get("FLOWAUTH_TWO_FACTOR_ISSUER") or "FlowAuth",
            two_factor_valid_window=_int(env, "TWO_FACTOR_VALID_WINDOW", 0, secrets_dir),
            session_minutes=_int(env, "FLOWAUTH_SESSION_MINUTES", 20, secrets_dir) or 20,
            sign_in_max_failures=_int(env, "FLOWAUTH_SIGN_IN_MAX_FAILURES", 5, secrets_dir),
            sign_in_window_seconds=_int(env, "FLOWAUTH_SIGN_IN_WINDOW_SECONDS", 900, secrets_dir),
            token_mint_max=_int(env, "FLOWAUTH_TOKEN_MINT_MAX", 60, secrets_dir),
            token_mint_window_seconds=_int(
                env, "FLOWAUTH_TOKEN_MINT_WINDOW_SECONDS", 3600, secrets_dir
            ),
            spec_url_origins=_origins(get("FLOWAUTH_SPEC_URL_ORIGINS")),
            secure_cookies=(get("FLOWAUTH_SECURE_COOKIES") or "").lower() == "true",
            demo_mode=get("DEMO_MODE") is not None,
            reset_db=get("RESET_FLOWAUTH_DB") is not None,
            log_level=(get("FLOWAUTH_LOG_LEVEL") or "error").lower(),
        )


def new_fernet_key() -> str:
    return Fernet.generate_key().decode()


def new_secret_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
