"""Session fixtures for the integration tests: `stack` (the whole local stack as real processes, see
integration_helpers.running_stack), an all-scopes token and flowclient connection, and FlowAuth API clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

import flowclient as fc
from integration_helpers import (
    ADMIN_PASSWORD,
    ADMIN_USERNAME,
    FlowAuthClient,
    Stack,
    running_stack,
)


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    with running_stack() as running:
        yield running


@pytest.fixture(scope="session")
def universal_token(stack: Stack) -> str:
    return stack.token()


@pytest.fixture(scope="session")
def conn(stack: Stack, universal_token: str) -> Iterator[fc.Connection]:
    connection = stack.connect(universal_token)
    yield connection
    connection.close()


@pytest.fixture
def flowauth_client(stack: Stack) -> Iterator[Callable[[], FlowAuthClient]]:
    """Make FlowAuth API clients (each with its own cookies); closed after the test."""
    made: list[FlowAuthClient] = []

    def make() -> FlowAuthClient:
        client = FlowAuthClient(stack.flowauth_url)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def admin(flowauth_client: Callable[[], FlowAuthClient]) -> FlowAuthClient:
    """The administrator the session made with `flowauth add-admin`, signed in."""
    client = flowauth_client()
    response = client.sign_in(ADMIN_USERNAME, ADMIN_PASSWORD)
    assert response.status_code == 200, response.text
    assert response.json()["is_admin"] is True
    return client
