"""The three privilege boundaries of the stack, FlowAuth → FlowAPI → FlowDB:

(i)   a token minted by FlowAuth carries only the scopes of the user's chosen roles on that server, and FlowAPI
      refuses what they do not grant; FlowAuth will not mint with a role the user does not hold;
(ii)  FlowAPI refuses a token signed by another key, or minted for another server (audience), or expired;
(iii) FlowAPI's database role reads `cache` and `geography` but not `events`; FlowMachine's role is no superuser.
"""

from __future__ import annotations

import datetime as dt

import httpx
import jwt
import psycopg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import flowclient as fc
from flowclient import aggregates as ag
from flowclient import daily_location_spec
from flowdb.testing import connect_as
from flowkit_jwt_generator.jwt import decompress_claims
from integration_helpers import AUDIENCE, USER_PASSWORD, make_world, mint, wait_ready, zmq_request

READER = ["get_result", "get_available_dates"]
RUNNER = [
    "run",
    "get_result",
    "admin3:spatial_aggregate:spatial_aggregate",
    "admin3:spatial_aggregate:daily_location",
]


def spatial(unit: str = "admin3") -> dict:
    return ag.spatial_aggregate_spec(
        locations=daily_location_spec(date="2016-03-02", aggregation_unit=unit, method="last")
    )


def run(stack, token: str, spec: dict | None = None) -> httpx.Response:
    return httpx.post(
        f"{stack.flowapi_url}/api/0/run",
        json=spec or spatial(),
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )


def test_flowauth_token_grants_only_the_chosen_roles_scopes(stack, admin, flowauth_client) -> None:
    world = make_world(admin, stack, {"reader": READER, "runner": RUNNER}, username="carol")
    reader, runner = "carol_reader", "carol_runner"
    # a role on the same server that carol does not hold
    make_world(admin, stack, {"everything": stack.all_scopes()}, username="dave")

    carol = flowauth_client()
    assert carol.sign_in("carol", USER_PASSWORD).status_code == 200
    refused = mint(carol, world, [reader, "dave_everything"])
    assert refused.status_code == 403
    assert (
        refused.json()["message"] == "Role 'dave_everything' is not permitted for the current user"
    )

    # reader only: the token holds exactly its scopes, and FlowAPI will not run a query with it
    reader_token = mint(carol, world, [reader]).json()["token"]
    claims = jwt.decode(reader_token, options={"verify_signature": False})
    assert decompress_claims(claims["user_claims"]) == {reader: sorted(READER)}
    response = run(stack, reader_token)
    assert response.status_code == 403
    assert response.json()["msg"] == "User claims verification failed"
    # ... but it can do what the role grants
    dates = httpx.get(
        f"{stack.flowapi_url}/api/0/available_dates",
        headers={"Authorization": f"Bearer {reader_token}"},
        timeout=30,
    )
    assert dates.status_code == 200 and "calls" in dates.json()["available_dates"]

    # both roles: admin3 runs, admin1 (not granted by any role) is refused
    both = mint(carol, world, [reader, runner]).json()["token"]
    assert run(stack, both).status_code == 202
    refused_unit = run(stack, both, spatial("admin1"))
    assert refused_unit.status_code == 403
    assert refused_unit.json()["msg"] == "User claims verification failed"


def test_flowauth_token_for_another_server_is_refused(stack, admin, flowauth_client) -> None:
    world = make_world(
        admin, stack, {"runner": RUNNER}, username="erin", server_name="another-flowapi"
    )
    erin = flowauth_client()
    assert erin.sign_in("erin", USER_PASSWORD).status_code == 200
    minted = mint(erin, world, ["erin_runner"])
    assert minted.status_code == 200, minted.text
    token = minted.json()["token"]
    assert jwt.decode(token, options={"verify_signature": False})["aud"] == "another-flowapi"
    response = run(stack, token)
    assert response.status_code == 422
    assert "audience" in response.json()["msg"].lower()


def test_token_signed_by_another_key_is_refused(stack) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = other.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    forged = stack.token(private_key=pem)
    response = run(stack, forged)
    assert response.status_code == 422
    assert "signature" in response.json()["msg"].lower()
    # the same claims signed by the stack's key are accepted
    assert run(stack, stack.token()).status_code == 202


def test_wrong_audience_and_expired_tokens_are_refused(stack) -> None:
    wrong_audience = stack.token(flowapi_identifier="some-other-server")
    response = run(stack, wrong_audience)
    assert response.status_code == 422 and "audience" in response.json()["msg"].lower()

    expired = stack.token(lifetime=dt.timedelta(seconds=-60))
    response = run(stack, expired)
    assert response.status_code == 401 and response.json()["msg"] == "Token has expired"

    missing = httpx.post(f"{stack.flowapi_url}/api/0/run", json=spatial(), timeout=30)
    assert missing.status_code == 401 and missing.json()["msg"]
    assert AUDIENCE != "some-other-server"


def test_flowapi_role_reads_cache_and_geography_only(stack, conn) -> None:
    # a cached result, and the SQL FlowMachine gives FlowAPI to stream it
    spec = spatial()
    query_id = fc.run_query(connection=conn, query_spec=spec)
    wait_ready(conn, query_id)
    reply = zmq_request(stack.flowmachine.port, "get_sql_for_query_result", {"query_id": query_id})
    assert reply["status"] == "success", reply
    result_sql = reply["payload"]["sql"]
    assert f"cache.x{query_id}" in result_sql
    with connect_as(stack.cluster, stack.cluster.settings.flowapi_user) as db:
        rows = db.execute(result_sql).fetchall()
        assert len(rows) == len(fc.get_result_by_query_id(connection=conn, query_id=query_id,
                                                          disable_progress=True))  # fmt: skip
        assert db.execute("SELECT count(*) FROM geography.admin3").fetchone()[0] > 0
        # FlowMachine's cache bookkeeping is not the API's business either (docs/compatibility.md)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            db.execute("SELECT * FROM cache.cached LIMIT 1")
        for table in ("events.calls", "events.sms", "infrastructure.cells", "dfs.transactions"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                db.execute(f"SELECT * FROM {table} LIMIT 1")  # noqa: S608 - fixed names
        # nor can it write into the cache
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            db.execute("CREATE TABLE cache.not_allowed (x int)")
        # a day partition directly, by its own name
        partition = None
        with stack.cluster.connect() as su:
            row = su.execute(
                "SELECT inhrelid::regclass::text FROM pg_inherits "
                "WHERE inhparent = 'events.calls'::regclass LIMIT 1"
            ).fetchone()
            partition = row[0] if row else None
        if partition is not None:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                db.execute(f"SELECT * FROM {partition} LIMIT 1")  # noqa: S608 - a catalogue name


def test_flowmachine_role_is_not_a_superuser(stack) -> None:
    with connect_as(stack.cluster, "flowmachine") as db:
        # it reads events (its job) ...
        assert db.execute("SELECT count(*) FROM events.calls").fetchone()[0] > 0
        flags = db.execute(
            "SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
        assert flags == (False, False, False)
        # ... but cannot do superuser things
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            db.execute("CREATE ROLE intruder LOGIN SUPERUSER")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            db.execute("CREATE ROLE intruder")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            db.execute("ALTER ROLE flowapi PASSWORD 'stolen'")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            db.execute("ALTER SYSTEM SET log_statement = 'none'")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            db.execute("CREATE DATABASE intruders")
