"""Differential-privacy limits per role (issue 21): set and validated through the role API (CSRF as ever), shown
in role shapes only when set, and minted into tokens as the `privacy` claim that FlowAPI reads."""

from __future__ import annotations

import jwt
import pytest

from conftest import USER_PASSWORD
from flowapi.auth import verify_token
from flowapi.privacy import PrivacyLimits

SCOPES = ("get_result", "run")


@pytest.fixture
def world(seed, api):
    server = seed.server("TEST_SERVER", scopes=SCOPES, life=1440)
    alice_id = seed.user("alice")
    viewer = seed.role(server, "viewer", scopes=("get_result",), users=(alice_id,))
    runner = seed.role(server, "runner", scopes=("run",), users=(alice_id,))
    alice = api()
    alice.sign_in("alice", USER_PASSWORD)
    return {"server": server, "viewer": viewer, "runner": runner, "alice": alice}


def _mint(client, server, roles):
    response = client.post(
        f"/tokens/tokens/{server}", {"name": "t", "roles": [{"name": r} for r in roles]}
    )
    assert response.status_code == 200, response.json
    return response.json["token"]


def test_role_limits_become_the_tokens_privacy_claim(admin, world, signing_keys):
    viewer, runner = world["viewer"], world["runner"]
    response = admin.patch(f"/roles/{viewer}", {"max_epsilon_per_query": 1, "epsilon_budget": 5.5})
    assert response.status_code == 200, response.json
    assert response.json["max_epsilon_per_query"] == 1
    assert response.json["epsilon_budget"] == 5.5
    assert admin.get(f"/roles/{viewer}").json["epsilon_budget"] == 5.5
    # a role without limits keeps FlowKit's shape
    assert "epsilon_budget" not in admin.get(f"/roles/{runner}").json

    token = _mint(world["alice"], world["server"], ["viewer"])
    assert jwt.decode(token, options={"verify_signature": False})["privacy"] == {
        "max_epsilon_per_query": 1.0,
        "epsilon_budget": 5.5,
    }
    user = verify_token(token, key=signing_keys[1], audience="TEST_SERVER")
    assert user.privacy == PrivacyLimits(
        max_epsilon_per_query=pytest.approx(1), epsilon_budget=pytest.approx(5.5)
    )
    assert user.token_id

    # several roles: the strictest of those that set limits
    admin.patch(f"/roles/{runner}", {"max_epsilon_per_query": 2, "epsilon_budget": 3})
    both = _mint(world["alice"], world["server"], ["viewer", "runner"])
    assert jwt.decode(both, options={"verify_signature": False})["privacy"] == {
        "max_epsilon_per_query": 1.0,
        "epsilon_budget": 3.0,
    }
    # clearing the limits: no claim, as FlowKit's tokens
    cleared = admin.patch(
        f"/roles/{viewer}", {"max_epsilon_per_query": None, "epsilon_budget": None}
    )
    assert cleared.status_code == 200 and "epsilon_budget" not in cleared.json
    plain = _mint(world["alice"], world["server"], ["viewer"])
    assert "privacy" not in jwt.decode(plain, options={"verify_signature": False})


def test_new_role_with_limits(admin, world):
    scope = {s["name"]: s["id"] for s in admin.get(f"/admin/servers/{world['server']}/scopes").json}
    body = {
        "name": "dp_viewer",
        "server_id": world["server"],
        "scopes": [scope["get_result"]],
        "latest_token_expiry": None,
        "longest_token_life_minutes": 60,
        "max_epsilon_per_query": 0.5,
        "epsilon_budget": 2,
    }
    response = admin.post("/roles/", body)
    assert response.status_code == 200, response.json
    assert (response.json["max_epsilon_per_query"], response.json["epsilon_budget"]) == (0.5, 2)


@pytest.mark.parametrize(
    ("fields", "message", "bad_field"),
    [
        ({"max_epsilon_per_query": 1}, "Set both privacy limits", "epsilon_budget"),
        ({"epsilon_budget": 1}, "Set both privacy limits", "max_epsilon_per_query"),
        ({"max_epsilon_per_query": 0, "epsilon_budget": 1}, "must be a number above 0", "max_epsilon_per_query"),
        ({"max_epsilon_per_query": 1, "epsilon_budget": "5"}, "must be a number above 0", "epsilon_budget"),
        ({"max_epsilon_per_query": True, "epsilon_budget": 5}, "must be a number above 0", "max_epsilon_per_query"),
        ({"max_epsilon_per_query": 1, "epsilon_budget": 1e9}, "at most 10000", "epsilon_budget"),
        ({"max_epsilon_per_query": 3, "epsilon_budget": 2}, "cannot be greater than epsilon_budget", "max_epsilon_per_query"),
    ],
)  # fmt: skip
def test_invalid_limits_are_refused(admin, world, fields, message, bad_field):
    response = admin.patch(f"/roles/{world['viewer']}", fields)
    assert response.status_code == 400
    assert message in response.json["message"]
    assert response.json["bad_field"] == bad_field
    assert "epsilon_budget" not in admin.get(f"/roles/{world['viewer']}").json


def test_limits_need_an_admin_and_the_csrf_token(admin, world):
    limits = {"max_epsilon_per_query": 1, "epsilon_budget": 2}
    response = admin.patch(f"/roles/{world['viewer']}", limits, csrf=False)
    assert response.status_code == 401
    assert world["alice"].patch(f"/roles/{world['viewer']}", limits).status_code == 403
    assert "epsilon_budget" not in admin.get(f"/roles/{world['viewer']}").json
