"""Issue 21 end to end: flowclient → FlowAPI (hypercorn, the ledger in FlowDB) → FlowMachine in its
differential-privacy release mode → FlowDB with the fixture data. Nothing is stood in for."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from flowapi_test_helpers import SPATIAL_SCOPES

import flowclient
from flowapi.testing import FlowmachineBackend, TokenMinter, serve_in_thread, settings_for
from flowclient.errors import FlowclientConnectionError
from flowclient.privacy import Privacy
from flowmachine.testing import server_in_thread
from flowmachine.testing import settings_for as flowmachine_settings


@pytest.fixture(scope="module")
def dp_flowapi_url(backend: FlowmachineBackend, minter: TokenMinter) -> Iterator[str]:
    """A second FlowMachine server on the session's FlowDB and Redis, in differential-privacy mode, and a
    FlowAPI served by hypercorn in front of it."""
    fm = replace(
        flowmachine_settings(backend.cluster, backend.redis_port),
        release_mode="differential_privacy",
    )
    with server_in_thread(fm) as server:
        settings = settings_for(backend, minter.public_key, flowmachine_port=server.settings.port)
        with serve_in_thread(settings) as url:
            yield url


# plain http on loopback: flowclient's NOT SECURE warning is expected here
pytestmark = pytest.mark.filterwarnings("ignore:Communications with this server are NOT SECURE")


def _spatial(date: str, epsilon: float) -> dict[str, Any]:
    return flowclient.aggregates.spatial_aggregate_spec(
        locations=flowclient.daily_location_spec(
            date=date, aggregation_unit="admin3", method="last"
        ),
        epsilon=epsilon,
    )


def test_flowclient_spends_a_tokens_budget_on_noisy_results(
    dp_flowapi_url: str, make_token: Callable[..., str]
) -> None:
    token = make_token(
        {"analyst": ["run", "get_result", *SPATIAL_SCOPES]},
        username=f"dp-analyst-{uuid.uuid4().hex[:8]}",
        privacy={"max_epsilon_per_query": 1.0, "epsilon_budget": 1.5},
    )
    conn = flowclient.connect(url=dp_flowapi_url, token=token)
    try:
        _spend_and_check(conn)
    finally:
        conn.close()


def _spend_and_check(conn: flowclient.Connection) -> None:
    query = conn.make_api_query(_spatial("2016-03-01", 1.0))
    assert query.privacy is None
    query.run()
    assert query.privacy == Privacy(epsilon=1.0, spent=0.0, remaining=1.5)
    result = query.get_result(disable_progress=True)
    assert query.privacy == Privacy(epsilon=1.0, spent=1.0, remaining=0.5)
    assert len(result) == 16 and (result["value"] >= 0).all()  # every admin3 unit, noisy counts

    # the same spec is the same query id: the same noisy answer, and free
    again = conn.make_api_query(_spatial("2016-03-01", 1.0))
    assert again.get_result(disable_progress=True).equals(result)
    assert again.privacy == Privacy(epsilon=1.0, spent=1.0, remaining=0.5)

    # a different query would take the token over its budget: refused with FlowAPI's message
    other = conn.make_api_query(_spatial("2016-03-02", 1.0))
    with pytest.raises(FlowclientConnectionError, match="Privacy budget exhausted"):
        other.get_result(disable_progress=True)
    # above the token's per-query maximum: refused at run
    greedy = conn.make_api_query(_spatial("2016-03-02", 2.0))
    with pytest.raises(FlowclientConnectionError, match="above this token's limit"):
        greedy.run()


@pytest.mark.asyncio
async def test_async_queries_expose_privacy_too(
    dp_flowapi_url: str, make_token: Callable[..., str]
) -> None:
    token = make_token(
        {"analyst": ["run", "get_result", *SPATIAL_SCOPES]},
        username=f"dp-async-{uuid.uuid4().hex[:8]}",
        privacy={"max_epsilon_per_query": 1.0, "epsilon_budget": 4.0},
    )
    conn = await flowclient.connect_async(url=dp_flowapi_url, token=token)
    query = conn.make_api_query(_spatial("2016-03-01", 1.0))
    result = await query.get_result(disable_progress=True)
    assert len(result) == 16
    assert query.privacy == Privacy(epsilon=1.0, spent=1.0, remaining=3.0)
