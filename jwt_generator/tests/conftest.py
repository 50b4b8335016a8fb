"""Fixtures for the flowkit_jwt_generator tests: one RSA key pair per session, the signing-key
environment variables, and a stand-in FlowAPI spec server (also offered as `flowapi_url`, the
fixture the plugin's `universal_access_token` expects from a consuming project)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from jwt_support import AUDIENCE, KeyPair, SpecServer, running_spec_server

from flowkit_jwt_generator import generate_keypair
from flowkit_jwt_generator.jwt import get_security_schemes_from_api_spec


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "network: needs PyPI (installs the published package into a scratch venv)"
    )


@pytest.fixture(scope="session")
def keypair() -> KeyPair:
    return KeyPair(*generate_keypair())


@pytest.fixture
def signing_env(monkeypatch: pytest.MonkeyPatch, keypair: KeyPair) -> KeyPair:
    """The key pair in the environment as deployments pass it: private base64, public PEM."""
    monkeypatch.setenv("PRIVATE_JWT_SIGNING_KEY", keypair.private_b64)
    monkeypatch.setenv("PUBLIC_JWT_SIGNING_KEY", keypair.public_pem.decode())
    monkeypatch.setenv("FLOWAPI_IDENTIFIER", AUDIENCE)
    return keypair


@pytest.fixture
def spec_server() -> Iterator[SpecServer]:
    get_security_schemes_from_api_spec.cache_clear()
    with running_spec_server() as server:
        yield server
    get_security_schemes_from_api_spec.cache_clear()


@pytest.fixture
def flowapi_url(spec_server: SpecServer) -> str:
    return spec_server.url
