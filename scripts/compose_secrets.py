"""Create the Docker secrets `docker-compose.yml` reads, as files under ./secrets/ (never committed).

Each file is written only if it does not exist yet, so re-running keeps existing keys and passwords:

    uv run python scripts/compose_secrets.py [--dir secrets]

The directory is made private to you (0700); the files are world-readable (0644) because Compose bind-mounts
them unchanged into containers that run as unprivileged users (see secrets/README.md).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

TOKEN_DAYS = 90  # AutoFlow's FLOWAPI_TOKEN: delete the file and re-run to renew it


def _password() -> str:
    return secrets.token_urlsafe(24)


def _key_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def make_secrets(directory: Path) -> list[str]:
    """Write every missing secret file; return the names written."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    values = {
        "POSTGRES_PASSWORD": _password,
        "FLOWMACHINE_FLOWDB_PASSWORD": _password,
        "FLOWAPI_FLOWDB_PASSWORD": _password,
        "FLOWETL_FLOWDB_PASSWORD": _password,
        "REDIS_PASSWORD": _password,
        "FLOWAUTH_ADMIN_PASSWORD": _password,
        "FLOWAUTH_FERNET_KEY": lambda: Fernet.generate_key().decode(),
        "SECRET_KEY": lambda: secrets.token_urlsafe(32),
    }
    written = []
    for name, make in values.items():
        path = directory / name
        if not path.exists():
            path.write_text(make() + "\n")
            written.append(name)
    private, public = directory / "PRIVATE_JWT_SIGNING_KEY", directory / "PUBLIC_JWT_SIGNING_KEY"
    if not private.exists() or not public.exists():
        private_pem, public_pem = _key_pair()
        private.write_text(private_pem)
        public.write_text(public_pem)
        written += [private.name, public.name]
    token = directory / "FLOWAPI_TOKEN"
    if not token.exists():
        token.write_text(
            autoflow_token(private.read_text(), os.environ.get("FLOWAPI_IDENTIFIER") or "flowapi")
            + "\n"
        )
        written.append(token.name)
    for path in directory.iterdir():
        if path.is_file() and path.name != "README.md":
            path.chmod(0o644)
    return written


def autoflow_token(private_pem: str, flowapi_identifier: str, days: int = TOKEN_DAYS) -> str:
    """AutoFlow's FlowAPI token (also `make up`'s sensor's, scripts/stack.py): signed with this deployment's key
    for every scope FlowAPI publishes (the example reports run spatial aggregates and flows at several units),
    valid `days` days. In production, a token minted in FlowAuth for the scopes the workflows need
    (docs/autoflow.md)."""
    from flowapi.permissions import all_scopes
    from flowkit_jwt_generator import generate_token, load_private_key
    from flowmachine.core.server.openapi import query_schemas_spec

    return generate_token(
        flowapi_identifier=flowapi_identifier,
        username="autoflow",
        private_key=load_private_key(private_pem),
        lifetime=dt.timedelta(days=days),
        roles={"autoflow": all_scopes(query_schemas_spec())},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path("secrets"), help="default ./secrets")
    args = parser.parse_args()
    written = make_secrets(args.dir)
    print(
        f"wrote {', '.join(written)}" if written else f"every secret already exists in {args.dir}"
    )


if __name__ == "__main__":
    main()
