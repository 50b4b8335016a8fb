"""FlowAuth → FlowAPI as people use them: an administrator (made with `flowauth add-admin`) sets up a server from
FlowAPI's spec, a role and a user through FlowAuth's JSON API; the user signs in, mints a token, and flowclient
runs a query the token permits; a query outside its scopes is refused with FlowAPI's JSON error."""

from __future__ import annotations

import time

import httpx
import jwt
import pandas as pd
import pyotp
import pytest

import flowclient as fc
from flowclient.errors import FlowclientConnectionError
from flowkit_jwt_generator.jwt import decompress_claims
from integration_helpers import AUDIENCE, USER_PASSWORD, make_world, mint, wait_ready

DAILY = dict(date="2016-03-01", method="last")
RUNNER = [
    "run",
    "get_result",
    "admin3:spatial_aggregate:spatial_aggregate",
    "admin3:spatial_aggregate:daily_location",
]


def _spatial(unit: str) -> dict:
    return fc.aggregates.spatial_aggregate_spec(
        locations=fc.daily_location_spec(aggregation_unit=unit, **DAILY)
    )


def _run_and_fetch(conn: fc.Connection, spec: dict, timeout: float = 90) -> pd.DataFrame:
    query_id = fc.run_query(connection=conn, query_spec=spec)
    wait_ready(conn, query_id, timeout)
    return fc.get_result_by_query_id(connection=conn, query_id=query_id, disable_progress=True)


def test_user_mints_a_token_and_runs_a_permitted_query(stack, admin, flowauth_client) -> None:
    world = make_world(admin, stack, {"runner": RUNNER}, username="alice")
    role = next(iter(world.role_scopes))

    alice = flowauth_client()
    signed_in = alice.sign_in("alice", USER_PASSWORD)
    assert signed_in.status_code == 200, signed_in.text
    assert signed_in.json() == {
        "logged_in": True,
        "is_admin": False,
        "require_two_factor_setup": False,
    }
    servers = alice.ok("GET", "/tokens/servers")
    assert {"id": world.server_id, "server_name": AUDIENCE} in servers
    minted = mint(alice, world, [role])
    assert minted.status_code == 200, minted.text
    token = minted.json()["token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["sub"] == "alice" and claims["aud"] == AUDIENCE
    assert decompress_claims(claims["user_claims"]) == {role: sorted(RUNNER)}

    conn = stack.connect(token)
    try:
        assert conn.user == "alice"
        result = _run_and_fetch(conn, _spatial("admin3"))
        assert list(result.columns) == ["pcod", "value"]
        assert len(result) > 0 and (result["value"] > 15).all()

        # outside the token's scopes: another aggregation unit, another kind
        for spec in (_spatial("admin1"), fc.aggregates.flows_spec(
            from_location=fc.daily_location_spec(aggregation_unit="admin3", **DAILY),
            to_location=fc.daily_location_spec(aggregation_unit="admin3", date="2016-03-02",
                                               method="last"),
        )):  # fmt: skip
            with pytest.raises(FlowclientConnectionError, match="User claims verification failed"):
                fc.run_query(connection=conn, query_spec=spec)
            refused = httpx.post(
                f"{stack.flowapi_url}/api/0/run",
                json=spec,
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )
            assert refused.status_code == 403
            # FlowKit's body is {"msg": ...}; ours adds "status": "error" (flowclient reads only msg)
            body = refused.json()
            assert body["msg"] == "User claims verification failed"
            assert set(body) <= {"msg", "status"}
        # a data route the role does not grant
        dates = httpx.get(
            f"{stack.flowapi_url}/api/0/available_dates",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert dates.status_code == 403 and dates.json()["msg"]
    finally:
        conn.close()


def test_two_factor_user_signs_in_with_totp_and_mints(stack, admin, flowauth_client) -> None:
    """A user the administrator requires to use two-factor: set it up, sign in with a TOTP code, mint."""
    world = make_world(admin, stack, {"runner": RUNNER}, username="bob", require_two_factor=True)
    role = next(iter(world.role_scopes))

    bob = flowauth_client()
    first = bob.sign_in("bob", USER_PASSWORD)
    assert first.status_code == 200, first.text
    assert first.json()["require_two_factor_setup"] is True
    # nothing but the setup until it is done
    blocked = mint(bob, world, [role])
    assert blocked.status_code == 403 and blocked.json()["need_two_factor_setup"] is True

    setup = bob.ok("POST", "/user/enable_two_factor")
    secret = setup["secret"].split(".")[0]
    totp = pyotp.TOTP(secret)
    bob.ok(
        "POST",
        "/user/confirm_two_factor",
        {
            "two_factor_code": totp.now(),
            "secret": setup["secret"],
            "backup_codes_signature": setup["backup_codes_signature"],
        },
    )
    bob.ok("POST", "/signout")

    again = flowauth_client()
    asked = again.sign_in("bob", USER_PASSWORD)
    assert asked.status_code == 400 and asked.json()["need_two_factor"] is True
    # the confirming code is spent; the next step's code is within the stack's one-step window
    signed_in = again.sign_in("bob", USER_PASSWORD, totp.at(time.time() + 30))
    assert signed_in.status_code == 200, signed_in.text
    minted = mint(again, world, [role])
    assert minted.status_code == 200, minted.text

    conn = stack.connect(minted.json()["token"])
    try:
        assert conn.user == "bob"
        assert len(_run_and_fetch(conn, _spatial("admin3"))) > 0
    finally:
        conn.close()
