"""FlowAPI's settings, read once from the environment (or Docker secrets) and passed to `create_app`.

Every option has FlowKit's name where FlowKit has one. A value in `/run/secrets/<NAME>` wins over the
environment variable of the same name, as in FlowKit's deployments.

    settings = Settings.from_env()
    app = create_app(settings)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from flowapi.keys import load_public_key
from flowkit_protocol.docker_secrets import SECRETS_DIR, read_secret


class SettingsError(Exception):
    """A required option is missing or an option has a value that cannot be used."""


def _lookup(env: Mapping[str, str], name: str, secrets_dir: Path | None) -> str | None:
    secret = read_secret(name, secrets_dir)
    if secret is not None:  # a secret file wins over the environment, even an empty one
        return secret
    value = env.get(name, "").strip()
    return value or None


@dataclass(frozen=True)
class Settings:
    """What FlowAPI needs to run; see docs/flowapi.md for the environment variable of each field."""

    public_jwt_signing_key: RSAPublicKey = field(repr=False)
    flowapi_identifier: str
    flowmachine_host: str = "localhost"
    flowmachine_port: int = 5555
    flowdb_host: str = "localhost"
    flowdb_port: int = 9000
    flowdb_user: str = "flowapi"
    flowdb_password: str = field(default="", repr=False)
    flowdb_database: str = "flowdb"
    port: int = 9090
    bind_address: str = "127.0.0.1"
    log_level: str = "error"
    # Ours: how long to wait for one FlowMachine reply before answering 503.
    zmq_timeout_seconds: float = 30.0
    # Ours: the largest request body accepted (larger ones get 413).
    max_body_bytes: int = 1_048_576
    # Ours: the most levels of arrays and objects a JSON body may nest (deeper ones get 400).
    max_json_depth: int = 100
    # Ours, not from the environment: seconds before the OpenAPI document is rebuilt from FlowMachine's
    # schemas (in the background; the last one is served meanwhile and while FlowMachine is down).
    spec_refresh_seconds: float = 60.0
    # Ours: rows fetched from FlowDB per round trip while streaming a result.
    result_chunk_rows: int = 2_000
    db_pool_size: int = 20
    # Ours: characters of specs and aggregation units FlowAPI remembers, per table (flowapi.query_facts).
    query_facts_bytes: int = 16 * 2**20
    # A PEM file holding certificate and key: served over HTTPS when present (FlowKit's secret name).
    tls_certificate: Path | None = None
    # Ours: ReDoc's standalone bundle, served with the ReDoc page so it renders offline (else from its CDN).
    redoc_script: Path | None = None

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, secrets_dir: Path | None = SECRETS_DIR
    ) -> Settings:
        env = os.environ if env is None else env

        def get(name: str, default: str | None = None, *, required: bool = False) -> str:
            value = _lookup(env, name, secrets_dir)
            if value is None:
                if required or default is None:
                    raise SettingsError(
                        f"Undefined configuration option: '{name}'. Please set it as an "
                        "environment variable or a docker secret."
                    )
                return default
            return value

        def number(name: str, default: str, kind: type[int] | type[float] = int) -> int | float:
            raw = get(name, default)
            try:
                value = kind(raw)
            except ValueError:
                raise SettingsError(f"{name} must be a number, got {raw!r}") from None
            if value <= 0:
                raise SettingsError(f"{name} must be positive, got {raw!r}")
            return value

        try:
            key = load_public_key(get("PUBLIC_JWT_SIGNING_KEY", required=True))
        except ValueError:
            raise SettingsError(
                "PUBLIC_JWT_SIGNING_KEY is not an RSA public key (PEM, or base64 of PEM)."
            ) from None
        cert = secrets_dir / "cert-flowkit.pem" if secrets_dir is not None else None
        redoc = get("FLOWAPI_REDOC_SCRIPT", "")
        if redoc and not Path(redoc).is_file():
            raise SettingsError(f"FLOWAPI_REDOC_SCRIPT {redoc!r} is not a file")
        return cls(
            public_jwt_signing_key=key,
            flowapi_identifier=get("FLOWAPI_IDENTIFIER", required=True),
            flowmachine_host=get("FLOWMACHINE_HOST", "localhost"),
            flowmachine_port=int(number("FLOWMACHINE_PORT", "5555")),
            flowdb_host=get("FLOWDB_HOST", "localhost"),
            flowdb_port=int(number("FLOWDB_PORT", "9000")),
            flowdb_user=get("FLOWAPI_FLOWDB_USER", "flowapi"),
            flowdb_password=get("FLOWAPI_FLOWDB_PASSWORD", required=True),
            flowdb_database=get("FLOWDB_DATABASE", "flowdb"),
            port=int(number("FLOWAPI_PORT", "9090")),
            bind_address=get("FLOWAPI_BIND_ADDRESS", "127.0.0.1"),
            log_level=get("FLOWAPI_LOG_LEVEL", "error").lower(),
            zmq_timeout_seconds=float(number("FLOWAPI_ZMQ_TIMEOUT", "30", float)),
            max_body_bytes=int(number("FLOWAPI_MAX_BODY_SIZE", "1048576")),
            max_json_depth=int(number("FLOWAPI_MAX_JSON_DEPTH", "100")),
            result_chunk_rows=int(number("FLOWAPI_RESULT_CHUNK_ROWS", "2000")),
            db_pool_size=int(number("FLOWAPI_DB_POOL_SIZE", "20")),
            query_facts_bytes=int(number("FLOWAPI_QUERY_FACTS_BYTES", str(16 * 2**20))),
            tls_certificate=cert if cert is not None and cert.is_file() else None,
            redoc_script=Path(redoc) if redoc else None,
        )

    @property
    def flowmachine_endpoint(self) -> str:
        return f"tcp://{self.flowmachine_host}:{self.flowmachine_port}"
