"""End-to-end fixtures from `flowapi.testing`: a private FlowDB, Redis and FlowMachine server, and FlowAPI served
by hypercorn on a loopback port, for flowclient to talk to."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from flowapi import Settings
from flowapi.testing import (
    FlowmachineBackend,
    TokenMinter,
    flowmachine_backend,
    serve_in_thread,
    settings_for,
    universal_scopes,
)


@pytest.fixture(scope="session")
def backend() -> Iterator[FlowmachineBackend]:
    with flowmachine_backend("flowclient-tests-") as started:
        yield started


@pytest.fixture(scope="session")
def minter() -> TokenMinter:
    return TokenMinter.new()


@pytest.fixture(scope="session")
def signing_keys(minter: TokenMinter) -> tuple[rsa.RSAPrivateKey, rsa.RSAPublicKey]:
    return minter.private_key, minter.public_key


@pytest.fixture(scope="session")
def settings(backend: FlowmachineBackend, minter: TokenMinter) -> Settings:
    return settings_for(backend, minter.public_key)


@pytest.fixture(scope="session")
def make_token(minter: TokenMinter) -> Callable[..., str]:
    """`make_token(roles, **overrides)`: a token as FlowAuth would issue it."""
    return minter.token


@pytest.fixture(scope="session")
def flowapi_url(settings: Settings) -> Iterator[str]:
    """FlowAPI under hypercorn in a thread of this process, on a free loopback port."""
    with serve_in_thread(settings) as url:
        yield url


@pytest.fixture(scope="session")
def universal_token(flowapi_url: str, make_token: Callable[..., str]) -> str:
    """A token granting every scope the server publishes (as flowkit_jwt_generator mints)."""
    spec = httpx.get(f"{flowapi_url}/api/0/spec/openapi.json").json()
    return make_token({"universal_role": universal_scopes(spec)})
