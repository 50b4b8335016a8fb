"""Session fixtures for FlowAPI: a private FlowDB (FlowMachine's fixture data), a private Redis, an in-process
FlowMachine server, token minting, and a FlowAPI app per test driven through Quart's test client."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flowapi_test_helpers import AUDIENCE

from flowapi import Settings, create_app
from flowdb.cluster import Cluster
from flowdb.testing import private_redis, scratch_directory, temporary_cluster
from flowkit_jwt_generator import generate_token
from flowmachine.testing import load_fixture_data


@pytest.fixture(scope="session")
def api_scratch() -> Iterator[Path]:
    with scratch_directory("flowapi-tests-") as root:
        yield root


@pytest.fixture(scope="session")
def flowdb_cluster(api_scratch: Path) -> Iterator[Cluster]:
    with temporary_cluster(api_scratch) as cluster:
        with cluster.connect() as conn:
            load_fixture_data(conn)
        yield cluster


@pytest.fixture(scope="session")
def redis_port(api_scratch: Path) -> Iterator[int]:
    """A redis-server of our own (no persistence), stopped at the end of the session."""
    with private_redis(api_scratch / "redis") as port:
        yield port


@pytest.fixture(scope="session")
def fm_port(flowdb_cluster: Cluster, redis_port: int) -> Iterator[int]:
    """A FlowMachine ZeroMQ server in a thread of this process, on a free loopback port."""
    from flowmachine.testing import server_in_thread, settings_for

    with server_in_thread(settings_for(flowdb_cluster, redis_port)) as server:
        yield server.settings.port


@pytest.fixture(scope="session")
def signing_keys() -> tuple[rsa.RSAPrivateKey, rsa.RSAPublicKey]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return private, private.public_key()


@pytest.fixture(scope="session")
def public_pem(signing_keys: tuple[rsa.RSAPrivateKey, rsa.RSAPublicKey]) -> bytes:
    return signing_keys[1].public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.fixture(scope="session")
def settings(flowdb_cluster: Cluster, fm_port: int, signing_keys: tuple[Any, Any]) -> Settings:
    return Settings(
        public_jwt_signing_key=signing_keys[1],
        flowapi_identifier=AUDIENCE,
        flowmachine_host="127.0.0.1",
        flowmachine_port=fm_port,
        flowdb_host="127.0.0.1",
        flowdb_port=flowdb_cluster.status().port,
        flowdb_user="flowapi",
        flowdb_password=flowdb_cluster.settings.role_password("flowapi"),
        zmq_timeout_seconds=30,
        result_chunk_rows=3,  # several chunks even for small results
        db_pool_size=4,
        max_body_bytes=64 * 1024,
    )


@pytest.fixture(scope="session")
def make_token(signing_keys: tuple[Any, Any]) -> Callable[..., str]:
    """`make_token(roles, **overrides)`: a token as FlowAuth would issue it (overrides for bad ones)."""

    def make(roles: dict[str, list[str]], **kwargs: Any) -> str:
        args: dict[str, Any] = {
            "flowapi_identifier": AUDIENCE,
            "username": "test",
            "private_key": signing_keys[0],
            "lifetime": dt.timedelta(minutes=5),
            "roles": roles,
        }
        args.update(kwargs)
        return generate_token(**args)

    return make


@pytest_asyncio.fixture
async def client(settings: Settings) -> AsyncIterator[Any]:
    app = create_app(settings)
    async with app.test_app() as test_app:
        yield test_app.test_client()


@pytest_asyncio.fixture
async def universal_token(client: Any, make_token: Callable[..., str]) -> str:
    spec = await (await client.get("/api/0/spec/openapi.json")).get_json()
    return make_token(
        {"universal_role": spec["components"]["securitySchemes"]["token"]["x-security-scopes"]}
    )
