"""pytest plugin: fixtures for signing keys and FlowAPI access tokens.

Installed through the `pytest11` entry point, so any project with this package installed gets
the fixtures without importing anything. Keys come from the environment:
`PRIVATE_JWT_SIGNING_KEY` and `PUBLIC_JWT_SIGNING_KEY` (PEM text or base64 of it), and tokens are
addressed to `FLOWAPI_IDENTIFIER` when it is set. `universal_access_token` needs a
`flowapi_url` fixture from the consuming project, pointing at a running FlowAPI.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from flowkit_jwt_generator.jwt import (
    generate_token,
    get_all_claims_from_flowapi,
    load_private_key,
    load_public_key,
)

TEST_USERNAME = "test"
TEST_TOKEN_LIFETIME = timedelta(seconds=300)

TokenBuilder = Callable[[dict[str, list[str]]], str]


@pytest.fixture
def private_key() -> rsa.RSAPrivateKey:
    """The private key in `PRIVATE_JWT_SIGNING_KEY` (KeyError when it is unset)."""
    return load_private_key(os.environ["PRIVATE_JWT_SIGNING_KEY"])


@pytest.fixture
def public_key() -> rsa.RSAPublicKey:
    """The public key in `PUBLIC_JWT_SIGNING_KEY` (KeyError when it is unset)."""
    return load_public_key(os.environ["PUBLIC_JWT_SIGNING_KEY"])


@pytest.fixture
def public_key_bytes(public_key: rsa.RSAPublicKey) -> bytes:
    """The `public_key` fixture as SubjectPublicKeyInfo PEM bytes."""
    return public_key.public_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PublicFormat.SubjectPublicKeyInfo,
    )


@pytest.fixture
def private_key_bytes(private_key: rsa.RSAPrivateKey) -> bytes:
    """The `private_key` fixture as unencrypted traditional OpenSSL PEM bytes."""
    return private_key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.TraditionalOpenSSL,
        encryption_algorithm=serialization.NoEncryption(),
    )


@pytest.fixture
def access_token_builder() -> TokenBuilder:
    """A function turning a roles mapping (`{role: [scope, ...]}`) into a signed token.

    Tokens are for user "test", live 300 seconds, are signed with `PRIVATE_JWT_SIGNING_KEY`
    and carry `FLOWAPI_IDENTIFIER` as their audience when that variable is set (no audience
    otherwise). Raises OSError (EnvironmentError) if the private key variable is unset.
    """
    audience = os.environ.get("FLOWAPI_IDENTIFIER")
    try:
        signing_key = load_private_key(os.environ["PRIVATE_JWT_SIGNING_KEY"])
    except KeyError:
        raise OSError("PRIVATE_JWT_SIGNING_KEY environment variable must be set.") from None

    def build(roles: dict[str, list[str]]) -> str:
        return generate_token(
            flowapi_identifier=audience,
            username=TEST_USERNAME,
            private_key=signing_key,
            lifetime=TEST_TOKEN_LIFETIME,
            roles=roles,
        )

    return build


@pytest.fixture
def universal_access_token(flowapi_url: str, access_token_builder: TokenBuilder) -> str:
    """A token whose one role, `universal_role`, holds every scope the FlowAPI at `flowapi_url`
    publishes in its OpenAPI spec."""
    return access_token_builder({"universal_role": get_all_claims_from_flowapi(flowapi_url)})
