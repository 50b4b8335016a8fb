"""The differential-privacy ledger (issue 21): FlowAPI charges a query id's epsilon to the token (and its user) at
the first result it streams, in FlowDB, atomically.

Against a FlowMachine server in its differential-privacy release mode (on the session's FlowDB with the fixture
data and its Redis): result replies name the query's epsilon. Nothing is stood in for.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from flowapi_test_helpers import DAILY, SPATIAL, SPATIAL_SCOPES, bearer

from flowapi import Settings, create_app
from flowapi.ledger import BudgetExhausted, Ledger
from flowapi.testing import FlowmachineBackend, TokenMinter, settings_for
from flowmachine.testing import server_in_thread
from flowmachine.testing import settings_for as flowmachine_settings

pytestmark = pytest.mark.asyncio

SCOPES = ["run", "get_result", "admin3:geography:geography", *SPATIAL_SCOPES]
ADMIN3_UNITS = 16  # the fixture geography's admin3 units: a private release publishes every one


def dp_spec(epsilon: float, date: str = "2016-03-01") -> dict[str, Any]:
    return {**SPATIAL, "locations": {**DAILY, "date": date}, "epsilon": epsilon}


@pytest.fixture(scope="module")
def dp_port(backend: FlowmachineBackend) -> Iterator[int]:
    """A FlowMachine server in differential-privacy release mode beside the session's default one."""
    fm = replace(
        flowmachine_settings(backend.cluster, backend.redis_port),
        release_mode="differential_privacy",
    )
    with server_in_thread(fm) as server:
        yield server.settings.port


@pytest.fixture
def dp_settings(backend: FlowmachineBackend, minter: TokenMinter, dp_port: int) -> Settings:
    return settings_for(backend, minter.public_key, flowmachine_port=dp_port)


@pytest.fixture
def user() -> str:
    """A user of this test alone (the ledger is FlowDB's, shared by the session)."""
    return f"analyst-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def dp_token(make_token: Callable[..., str], user: str) -> Callable[..., str]:
    def make(max_epsilon: float = 1.0, budget: float = 5.0, **kwargs: Any) -> str:
        return make_token(
            {"analyst": SCOPES},
            username=user,
            privacy={"max_epsilon_per_query": max_epsilon, "epsilon_budget": budget},
            **kwargs,
        )

    return make


async def _run(client: Any, token: str, spec: dict[str, Any]) -> Any:
    return await client.post("/api/0/run", json=spec, headers=bearer(token))


async def _query_id(client: Any, token: str, spec: dict[str, Any]) -> str:
    """Run `spec` and wait (at most a minute) until its result is ready; its query id."""
    response = await _run(client, token, spec)
    assert response.status_code == 202, await response.get_data()
    query_id = (await response.get_json())["query_id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        poll = await client.get(f"/api/0/poll/{query_id}", headers=bearer(token))
        if poll.status_code == 303:
            return query_id
        assert poll.status_code == 202, await poll.get_data()
        await asyncio.sleep(0.1)
    raise AssertionError(f"query {query_id} did not finish within a minute")


def _privacy(response: Any) -> tuple[str | None, str | None, str | None]:
    h = response.headers
    return (
        h.get("X-Privacy-Epsilon"),
        h.get("X-Privacy-Epsilon-Spent"),
        h.get("X-Privacy-Epsilon-Remaining"),
    )


async def test_first_get_charges_repeated_gets_are_free(dp_settings, dp_token, user):
    token = dp_token(max_epsilon=1.0, budget=5.0)
    async with create_app(dp_settings).test_app() as app:
        client = app.test_client()
        run = await _run(client, token, dp_spec(0.5))
        assert run.status_code == 202
        assert _privacy(run) == ("0.5", "0", "5")
        query_id = await _query_id(client, token, dp_spec(0.5))
        poll = await client.get(f"/api/0/poll/{query_id}", headers=bearer(token))
        assert poll.status_code == 303
        assert _privacy(poll) == ("0.5", "0", "5")
        first = await client.get(f"/api/0/get/{query_id}", headers=bearer(token))
        assert first.status_code == 200
        body = await first.get_json()
        assert len(body["query_result"]) == ADMIN3_UNITS
        assert _privacy(first) == ("0.5", "0.5", "4.5")
        for path in (f"/get/{query_id}", f"/get/{query_id}.csv", f"/get/{query_id}.geojson"):
            again = await client.get(f"/api/0{path}", headers=bearer(token))
            assert again.status_code == 200, path
            await again.get_data()
            assert _privacy(again) == ("0.5", "0.5", "4.5"), path
        head = await client.head(f"/api/0/get/{query_id}", headers=bearer(token))
        assert _privacy(head) == ("0.5", "0.5", "4.5")
        # a second private query adds up, exactly (NUMERIC, not float sums)
        other = await _query_id(client, token, dp_spec(0.1, "2016-03-02"))
        for _ in range(2):
            response = await client.get(f"/api/0/get/{other}", headers=bearer(token))
            assert _privacy(response) == ("0.1", "0.6", "4.4")
    ledger = await _ledger_rows(dp_settings, user)
    assert ledger == {"user": Decimal("0.6"), "charges": 2}


async def test_epsilon_above_the_tokens_maximum_is_refused(dp_settings, dp_token):
    async with create_app(dp_settings).test_app() as app:
        client = app.test_client()
        response = await _run(client, dp_token(max_epsilon=1.0), dp_spec(1.5))
        assert response.status_code == 403
        body = await response.get_json()
        assert body["status"] == "error"
        assert "above this token's limit of 1 per query" in body["msg"]
        # a result someone with a larger limit ran is not released to this token either
        query_id = await _query_id(client, dp_token(max_epsilon=2.0), dp_spec(1.5))
        refused = await client.get(f"/api/0/get/{query_id}", headers=bearer(dp_token()))
        assert refused.status_code == 403
        assert "above this token's limit" in (await refused.get_json())["msg"]


async def test_token_without_privacy_claim_cannot_use_private_queries(
    dp_settings, dp_token, make_token, client
):
    plain = make_token({"analyst": SCOPES})
    default_mode = client  # the session's FlowMachine, in the default (redaction) mode
    async with create_app(dp_settings).test_app() as app:
        client = app.test_client()
        response = await _run(client, plain, dp_spec(0.5))
        assert response.status_code == 403
        body = await response.get_json()
        assert body == {"status": "error", "msg": body["msg"]}
        assert "the token carries no privacy limits" in body["msg"]
        query_id = await _query_id(client, dp_token(), dp_spec(0.5))
        refused = await client.get(f"/api/0/get/{query_id}", headers=bearer(plain))
        assert refused.status_code == 403
        assert "no privacy limits" in (await refused.get_json())["msg"]
    # a query without epsilon (on a server in the default mode) is answered as ever, with no privacy headers
    normal_id = await _query_id(default_mode, plain, SPATIAL)
    result = await default_mode.get(f"/api/0/get/{normal_id}", headers=bearer(plain))
    assert result.status_code == 200
    assert _privacy(result) == (None, None, None)


async def test_malformed_privacy_claim_is_an_invalid_token(dp_settings, make_token):
    token = make_token(
        {"analyst": SCOPES}, privacy={"max_epsilon_per_query": -1, "epsilon_budget": 1}
    )
    async with create_app(dp_settings).test_app() as app:
        response = await _run(app.test_client(), token, SPATIAL)
        assert response.status_code == 422
        assert "privacy claim" in (await response.get_json())["msg"]


async def test_budget_exhausted_streams_nothing(dp_settings, dp_token):
    token = dp_token(max_epsilon=1.0, budget=1.5)
    async with create_app(dp_settings).test_app() as app:
        client = app.test_client()
        first = await _query_id(client, token, dp_spec(1.0))
        second = await _query_id(client, token, dp_spec(1.0, "2016-03-02"))
        assert (await client.get(f"/api/0/get/{first}", headers=bearer(token))).status_code == 200
        refused = await client.get(f"/api/0/get/{second}", headers=bearer(token))
        assert refused.status_code == 403
        body = await refused.get_json()
        assert body["status"] == "error"
        assert body["msg"].startswith("Privacy budget exhausted: ")
        assert "query_result" not in body
        # the released query stays free
        again = await client.get(f"/api/0/get/{first}", headers=bearer(token))
        assert again.status_code == 200
        assert _privacy(again) == ("1", "1", "0.5")


async def test_run_says_at_once_when_the_budget_cannot_cover_the_first_get(dp_settings, dp_token):
    token = dp_token(max_epsilon=1.0, budget=1.5)
    async with create_app(dp_settings).test_app() as app:
        client = app.test_client()
        first = await _query_id(client, token, dp_spec(1.0, "2016-03-03"))
        assert (await client.get(f"/api/0/get/{first}", headers=bearer(token))).status_code == 200
        refused = await _run(client, token, dp_spec(1.0, "2016-03-04"))
        assert refused.status_code == 403
        body = await refused.get_json()
        assert body == {"status": "error", "msg": body["msg"]}
        assert body["msg"].startswith(
            "Privacy budget exhausted: this query spends epsilon 1, and only 0.5"
        )
        assert _privacy(refused) == ("1", "1", "0.5")  # the refusal says where the token stands
        # what the token has already had stays free to run and get; what fits is still run
        assert (await _run(client, token, dp_spec(1.0, "2016-03-03"))).status_code == 202
        assert (await _run(client, token, dp_spec(0.5, "2016-03-04"))).status_code == 202


async def test_two_clients_spending_the_last_of_a_budget_at_once_exactly_one_wins(
    dp_settings, make_token
):
    """Two FlowAPI servers (as two processes would be), each with its own token of a user who has half of
    their budget left, fetch a different query each spending that half, at the same moment; three times, each
    time a new user."""
    async with (
        create_app(dp_settings).test_app() as one,
        create_app(dp_settings).test_app() as two,
    ):
        clients = [one.test_client(), two.test_client()]
        specs = [dp_spec(0.5, day) for day in ("2016-03-03", "2016-03-04", "2016-03-05")]
        for round_ in range(3):
            user = f"racer-{uuid.uuid4().hex[:8]}"
            tokens = [
                make_token(
                    {"analyst": SCOPES},
                    username=user,
                    privacy={"max_epsilon_per_query": 1.0, "epsilon_budget": 1.0},
                )
                for _ in range(3)
            ]
            spent = await _query_id(clients[0], tokens[2], specs[0])
            response = await clients[0].get(f"/api/0/get/{spent}", headers=bearer(tokens[2]))
            assert _privacy(response) == ("0.5", "0.5", "0.5")
            query_ids = [
                await _query_id(client, token, specs[i + 1])
                for i, (client, token) in enumerate(zip(clients, tokens, strict=False))
            ]
            responses = await asyncio.gather(
                *(
                    client.get(f"/api/0/get/{query_id}", headers=bearer(token))
                    for client, token, query_id in zip(clients, tokens, query_ids, strict=False)
                )
            )
            assert sorted(r.status_code for r in responses) == [200, 403], round_
            assert (await _ledger_rows(dp_settings, user)) == {"user": Decimal(1), "charges": 2}


async def test_concurrent_debits_never_overspend(dp_settings, user):
    """Twenty debits of 1 against a budget of 7, all at once on separate connections: exactly 7 are
    recorded and the totals are 7."""
    pool = await asyncpg.create_pool(
        host=dp_settings.flowdb_host,
        port=dp_settings.flowdb_port,
        user=dp_settings.flowdb_user,
        password=dp_settings.flowdb_password,
        database=dp_settings.flowdb_database,
        min_size=10,
        max_size=10,
    )
    try:
        ledger = Ledger(pool)

        async def spend(i: int) -> bool:
            try:
                await ledger.charge(
                    token_id=f"{user}-token",
                    user=user,
                    query_id=f"q{i}",
                    epsilon=Decimal(1),
                    budget=Decimal(7),
                )
            except BudgetExhausted:
                return False
            return True

        results = await asyncio.gather(*(spend(i) for i in range(20)))
        assert sum(results) == 7
        balance = await ledger.balance(token_id=f"{user}-token", user=user, budget=Decimal(7))
        assert (balance.spent, balance.remaining) == (Decimal(7), Decimal(0))
    finally:
        await pool.close()


async def test_ledger_survives_a_flowapi_restart(dp_settings, dp_token):
    token = dp_token(max_epsilon=1.0, budget=2.0)
    async with create_app(dp_settings).test_app() as app:
        client = app.test_client()
        first = await _query_id(client, token, dp_spec(1.0))
        second = await _query_id(client, token, dp_spec(1.0, "2016-03-02"))
        third = await _query_id(client, token, dp_spec(1.0, "2016-03-03"))
        response = await client.get(f"/api/0/get/{first}", headers=bearer(token))
        assert _privacy(response) == ("1", "1", "1")
    async with create_app(dp_settings).test_app() as app:  # a new server: nothing in memory
        client = app.test_client()
        again = await client.get(f"/api/0/get/{first}", headers=bearer(token))
        assert again.status_code == 200
        assert _privacy(again) == ("1", "1", "1")
        response = await client.get(f"/api/0/get/{second}", headers=bearer(token))
        assert _privacy(response) == ("1", "2", "0")
        refused = await client.get(f"/api/0/get/{third}", headers=bearer(token))
        assert refused.status_code == 403


async def test_expired_token_is_refused_and_the_users_spending_carries_over(dp_settings, dp_token):
    short = dp_token(max_epsilon=1.0, budget=1.5, lifetime=dt.timedelta(seconds=2))
    async with create_app(dp_settings).test_app() as app:
        client = app.test_client()
        first = await _query_id(client, short, dp_spec(1.0))
        assert (await client.get(f"/api/0/get/{first}", headers=bearer(short))).status_code == 200
        time.sleep(2.5)
        expired = await client.get(f"/api/0/get/{first}", headers=bearer(short))
        assert expired.status_code == 401
        assert await expired.get_json() == {"msg": "Token has expired"}
        fresh = dp_token(max_epsilon=1.0, budget=1.5)  # same user, new token
        refused = await _run(client, fresh, dp_spec(1.0, "2016-03-02"))  # refused at run already
        assert refused.status_code == 403
        assert "to this user, across their tokens" in (await refused.get_json())["msg"]
        # the result the user already had costs the user nothing more (the token still counts it)
        again = await client.get(f"/api/0/get/{first}", headers=bearer(fresh))
        assert again.status_code == 200
        assert _privacy(again) == ("1", "1", "0.5")


async def _ledger_rows(settings: Settings, user: str) -> dict[str, Any]:
    conn = await asyncpg.connect(
        host=settings.flowdb_host,
        port=settings.flowdb_port,
        user=settings.flowdb_user,
        password=settings.flowdb_password,
        database=settings.flowdb_database,
    )
    try:
        spent = await conn.fetchval("SELECT spent FROM privacy.user_spend WHERE sub = $1", user)
        charges = await conn.fetchval("SELECT count(*) FROM privacy.charges WHERE sub = $1", user)
    finally:
        await conn.close()
    return {"user": spent, "charges": charges}


async def test_a_private_get_needs_one_pooled_connection_at_a_time(dp_settings, dp_token):
    """The debit and the result stream never hold two connections at once, so even a pool of one serves private
    results (a request holding one connection while waiting for another could wait for ever under load)."""
    token = dp_token(max_epsilon=1.0, budget=5.0)
    async with create_app(replace(dp_settings, db_pool_size=1)).test_app() as app:
        client = app.test_client()
        query_id = await _query_id(client, token, dp_spec(0.5))
        for _ in range(2):
            response = await asyncio.wait_for(
                client.get(f"/api/0/get/{query_id}", headers=bearer(token)), timeout=20
            )
            assert response.status_code == 200
            assert len((await response.get_json())["query_result"]) == ADMIN3_UNITS
            assert _privacy(response) == ("0.5", "0.5", "4.5")
