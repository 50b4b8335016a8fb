"""Session fixtures for FlowAPI, from `flowapi.testing`: a private FlowDB (FlowMachine's fixture data), Redis and
an in-process FlowMachine server, token minting, and a FlowAPI app per test driven through Quart's test client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.asymmetric import rsa

from flowapi import Settings
from flowapi.testing import (
    FlowmachineBackend,
    TokenMinter,
    app_test_client,
    flowmachine_backend,
    settings_for,
    universal_scopes,
)
from flowdb.cluster import Cluster


@pytest.fixture(scope="session")
def backend() -> Iterator[FlowmachineBackend]:
    with flowmachine_backend("flowapi-tests-") as started:
        yield started


@pytest.fixture(scope="session")
def flowdb_cluster(backend: FlowmachineBackend) -> Cluster:
    return backend.cluster


@pytest.fixture(scope="session")
def minter() -> TokenMinter:
    return TokenMinter.new()


@pytest.fixture(scope="session")
def signing_keys(minter: TokenMinter) -> tuple[rsa.RSAPrivateKey, rsa.RSAPublicKey]:
    return minter.private_key, minter.public_key


@pytest.fixture(scope="session")
def public_pem(minter: TokenMinter) -> bytes:
    return minter.public_pem


@pytest.fixture(scope="session")
def settings(backend: FlowmachineBackend, minter: TokenMinter) -> Settings:
    return settings_for(backend, minter.public_key)


@pytest.fixture(scope="session")
def make_token(minter: TokenMinter) -> Callable[..., str]:
    """`make_token(roles, **overrides)`: a token as FlowAuth would issue it (overrides for bad ones)."""
    return minter.token


@pytest_asyncio.fixture
async def client(settings: Settings) -> AsyncIterator[Any]:
    async with app_test_client(settings) as test_client:
        yield test_client


@pytest_asyncio.fixture
async def universal_token(client: Any, make_token: Callable[..., str]) -> str:
    spec = await (await client.get("/api/0/spec/openapi.json")).get_json()
    return make_token({"universal_role": universal_scopes(spec)})
