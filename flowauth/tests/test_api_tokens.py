"""Minting and renewing tokens: lifetimes within every cap, only the caller's roles of that server, tokens
stored encrypted, and accepted by FlowAPI's own verification."""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import replace

import jwt
import pytest

from conftest import USER_PASSWORD
from flowapi.auth import verify_token
from flowauth.models import TokenHistory, utcnow
from flowkit_jwt_generator.jwt import decompress_claims

SCOPES = ("get_result", "run", "admin0:geography:geography", "get_available_dates")


@pytest.fixture
def alice(api):
    return api()


@pytest.fixture
def world(seed, alice):
    """TEST_SERVER (1 day life, no absolute cap) with roles viewer and runner held by alice, and a role
    she does not hold; OTHER, where she holds a role also named `admin_only`."""
    server = seed.server("TEST_SERVER", scopes=SCOPES, life=1440)
    other = seed.server("OTHER", scopes=SCOPES, life=1440)
    alice_id = seed.user("alice")
    viewer = seed.role(server, "viewer", scopes=("get_result", "admin0:geography:geography"),
                       life=600, users=(alice_id,))  # fmt: skip
    runner = seed.role(server, "runner", scopes=("run",), life=120, users=(alice_id,))
    seed.role(server, "admin_only", scopes=SCOPES)
    seed.role(other, "admin_only", scopes=SCOPES, users=(alice_id,))
    alice.sign_in("alice", USER_PASSWORD)
    return {"server": server, "other": other, "alice": alice_id, "viewer": viewer, "runner": runner}


def _claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def _life_minutes(token: str) -> float:
    claims = _claims(token)
    return (claims["exp"] - claims["iat"]) / 60


def _mint(client, server, roles, **fields):
    return client.post(
        f"/tokens/tokens/{server}",
        {"name": "my_token", "roles": [{"name": r} for r in roles], **fields},
    )


def test_a_minted_token_is_accepted_by_flowapi(alice, world, signing_keys):
    response = _mint(alice, world["server"], ["viewer", "runner"])
    assert response.status_code == 200
    token = response.json["token"]
    user = verify_token(token, key=signing_keys[1], audience="TEST_SERVER")
    assert user.name == "alice"
    assert user.roles == {
        "viewer": frozenset({"get_result", "admin0:geography:geography"}),
        "runner": frozenset({"run"}),
    }
    claims = _claims(token)
    assert claims["sub"] == "alice" and claims["aud"] == "TEST_SERVER"
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    # the roles are compressed, as FlowAPI 1.34 reads them, with sorted scopes
    assert decompress_claims(claims["user_claims"]) == {
        "viewer": ["admin0:geography:geography", "get_result"],
        "runner": ["run"],
    }
    with pytest.raises(Exception, match="Audience"):
        verify_token(token, key=signing_keys[1], audience="OTHER")


def test_lifetime_is_the_smallest_cap(alice, world):
    assert _life_minutes(_mint(alice, world["server"], ["viewer"]).json["token"]) == pytest.approx(
        600, abs=0.1
    )
    assert _life_minutes(
        _mint(alice, world["server"], ["viewer", "runner"]).json["token"]
    ) == pytest.approx(120, abs=0.1)


def test_absolute_caps_apply(alice, world, admin):
    soon = utcnow() + dt.timedelta(minutes=30)
    stamp = soon.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    admin.patch(f"/roles/{world['viewer']}", {"latest_token_expiry": stamp})
    assert _life_minutes(_mint(alice, world["server"], ["viewer"]).json["token"]) == pytest.approx(
        30, abs=0.1
    )
    # the server's own cap
    admin.patch(f"/roles/{world['viewer']}", {"latest_token_expiry": None})
    admin.patch(
        f"/admin/servers/{world['server']}",
        {
            "latest_token_expiry": (utcnow() + dt.timedelta(minutes=45)).strftime(
                "%Y-%m-%dT%H:%M:%S.%fZ"
            )
        },
    )
    minted = _mint(alice, world["server"], ["viewer"])
    assert _life_minutes(minted.json["token"]) == pytest.approx(45, abs=0.1)
    row = alice.get(f"/tokens/tokens/{world['server']}").json[-1]
    assert row["id"] == minted.json["id"]
    expires = dt.datetime.strptime(row["expires"], "%Y-%m-%dT%H:%M:%S.%fZ")
    assert (
        abs(expires.replace(tzinfo=dt.UTC).timestamp() - _claims(minted.json["token"])["exp"]) < 2
    )


def test_expired_caps_refuse_the_token(alice, world, admin):
    past = (utcnow() - dt.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    admin.patch(f"/roles/{world['runner']}", {"latest_token_expiry": past})
    response = _mint(alice, world["server"], ["viewer", "runner"])
    assert response.status_code == 400
    assert response.json["message"].startswith("Token for alice expired")
    assert "role 'runner'" in response.json["message"]
    assert _mint(alice, world["server"], ["viewer"]).status_code == 200  # without it: fine
    admin.patch(f"/admin/servers/{world['server']}", {"latest_token_expiry": past})
    response = _mint(alice, world["server"], ["viewer"])
    assert response.status_code == 400
    assert "server 'TEST_SERVER'" in response.json["message"]


def test_lifetime_minutes(alice, world):
    response = _mint(alice, world["server"], ["viewer"], lifetime_minutes=10)
    assert response.status_code == 200
    assert _life_minutes(response.json["token"]) == pytest.approx(10, abs=0.1)
    assert _life_minutes(
        _mint(alice, world["server"], ["viewer"], lifetime_minutes=None).json["token"]
    ) == pytest.approx(600, abs=0.1)
    assert _mint(alice, world["server"], ["viewer"], lifetime_minutes=599).status_code == 200
    too_long = _mint(alice, world["server"], ["viewer", "runner"], lifetime_minutes=121)
    assert too_long.status_code == 400
    assert too_long.json["message"].startswith("Requested lifetime exceeds the maximum permitted")
    assert too_long.json["bad_field"] == "lifetime_minutes"
    for bad in (0, -5, 1.5, 10.0, "10", " 10", "ten", True, False, [], {}, 10**30):
        response = _mint(alice, world["server"], ["viewer"], lifetime_minutes=bad)
        assert response.status_code == 400, bad
        assert response.json["bad_field"] == "lifetime_minutes"


def test_only_the_callers_roles_of_this_server(alice, world):
    # admin_only exists on TEST_SERVER (not hers) and on OTHER (hers): not usable on TEST_SERVER
    response = _mint(alice, world["server"], ["viewer", "admin_only"])
    assert response.status_code == 403
    assert response.json["message"] == "Role 'admin_only' is not permitted for the current user"
    assert _mint(alice, world["other"], ["admin_only"]).status_code == 200
    assert _mint(alice, world["other"], ["viewer"]).status_code == 403
    assert _mint(alice, world["server"], ["nonexistent"]).status_code == 403


@pytest.mark.parametrize(
    ("body", "message", "field"),
    [
        ({"roles": [{"name": "viewer"}]}, "No name.", "name"),
        ({"name": " ", "roles": [{"name": "viewer"}]}, "Token name cannot be blank.", "name"),
        ({"name": "t" * 76, "roles": [{"name": "viewer"}]}, "Token name must be 75 characters or less.", "name"),
        ({"name": "t"}, "No roles.", "roles"),
        ({"name": "t", "roles": []}, "At least one role must be selected.", "roles"),
        ({"name": "t", "roles": [{"nom": "viewer"}]}, "roles must be a list of {name: <role name>}.", "roles"),
        ({"name": "t", "roles": "viewer"}, "roles must be a list of {name: <role name>}.", "roles"),
    ],
)  # fmt: skip
def test_mint_validation(alice, world, body, message, field):
    response = alice.post(f"/tokens/tokens/{world['server']}", body)
    assert response.status_code == 400
    assert response.json == {"message": message, "code": 400, "bad_field": field}


def test_minting_on_a_missing_server(alice, world):
    assert _mint(alice, 99, ["viewer"]).status_code == 404


def test_tokens_are_listed_for_their_owner_and_stored_encrypted(alice, world, api, seed):
    token = _mint(alice, world["server"], ["viewer", "runner"]).json["token"]
    listed = alice.get(f"/tokens/tokens/{world['server']}").json
    assert listed == [
        {
            "id": 1,
            "name": "my_token",
            "token": token,
            "expires": listed[0]["expires"],
            "created": listed[0]["created"],
            "expired": False,
            "server_name": "TEST_SERVER",
            "username": "alice",
            "roles": [
                {"id": world["runner"], "name": "runner"},
                {"id": world["viewer"], "name": "viewer"},
            ],
        }
    ]
    (row,) = seed.rows(TokenHistory)
    assert token not in row.token_encrypted
    assert alice.get(f"/tokens/tokens/{world['other']}").json == []
    seed.user("bob")
    bob = api()
    bob.sign_in("bob", USER_PASSWORD)
    assert bob.get(f"/tokens/tokens/{world['server']}").json == []


def test_my_servers_and_access(alice, world):
    assert alice.get("/tokens/servers").json == [
        {"id": world["other"], "server_name": "OTHER"},
        {"id": world["server"], "server_name": "TEST_SERVER"},
    ]
    access = alice.get(f"/tokens/servers/{world['server']}").json
    assert access["server_name"] == "TEST_SERVER"
    assert access["latest_token_expiry"] is None
    assert access["longest_token_life_minutes"] == 1440
    assert [role["name"] for role in access["roles"]] == ["runner", "viewer"]
    viewer = access["roles"][1]
    assert viewer["scope_names"] == ["admin0:geography:geography", "get_result"]
    assert viewer["expired"] is False and "users" not in viewer


def test_access_to_a_server_without_roles(alice, world, seed):
    lonely = seed.server("LONELY")
    assert alice.get(f"/tokens/servers/{lonely}").status_code == 403
    assert alice.get("/tokens/servers/99").status_code == 404


def test_my_roles_on_a_server_are_only_mine(alice, world, seed):
    roles = alice.get(f"/user/roles/server/{world['server']}").json
    assert [role["name"] for role in roles] == ["runner", "viewer"]
    assert all("users" not in role for role in roles)
    assert alice.get(f"/user/roles/server/{world['other']}").json[0]["name"] == "admin_only"
    assert alice.get("/user/roles/server/99").status_code == 404


# -- renew --------------------------------------------------------------------------------------------------


def test_renew_a_token(alice, world):
    first = _mint(alice, world["server"], ["viewer", "runner"], lifetime_minutes=5).json
    renewed = alice.post(f"/tokens/tokens/{first['id']}/renew", {"lifetime_minutes": 60})
    assert renewed.status_code == 200
    assert renewed.json["id"] != first["id"]
    assert _life_minutes(renewed.json["token"]) == pytest.approx(60, abs=0.1)
    assert set(decompress_claims(_claims(renewed.json["token"])["user_claims"])) == {
        "viewer",
        "runner",
    }
    listed = alice.get(f"/tokens/tokens/{world['server']}").json
    assert [(t["id"], t["name"]) for t in listed] == [
        (first["id"], "my_token"),
        (renewed.json["id"], "my_token"),
    ]
    # no body: the largest lifetime allowed
    again = alice.post(f"/tokens/tokens/{first['id']}/renew")
    assert again.status_code == 200
    assert _life_minutes(again.json["token"]) == pytest.approx(120, abs=0.1)
    too_long = alice.post(f"/tokens/tokens/{first['id']}/renew", {"lifetime_minutes": 121})
    assert too_long.status_code == 400
    as_text = alice.post(f"/tokens/tokens/{first['id']}/renew", {"lifetime_minutes": "60"})
    assert as_text.status_code == 400
    assert as_text.json["bad_field"] == "lifetime_minutes"


def test_an_expired_token_can_be_renewed(alice, world, state):
    minted = _mint(alice, world["server"], ["viewer"]).json
    with state.database.sessions() as session, session.begin():
        session.get(TokenHistory, minted["id"]).expiry = utcnow() - dt.timedelta(days=1)
    assert alice.get(f"/tokens/tokens/{world['server']}").json[0]["expired"] is True
    assert alice.post(f"/tokens/tokens/{minted['id']}/renew").status_code == 200


def test_renew_needs_every_role_still_held(alice, world, admin):
    minted = _mint(alice, world["server"], ["viewer", "runner"]).json
    admin.patch(f"/roles/{world['runner']}", {"users": []})
    response = alice.post(f"/tokens/tokens/{minted['id']}/renew")
    assert response.status_code == 403
    assert response.json["missing_roles"] == ["runner"]
    assert "runner" in response.json["message"]


def test_renew_after_a_role_was_deleted(alice, world, admin):
    minted = _mint(alice, world["server"], ["viewer", "runner"]).json
    admin.delete(f"/roles/{world['runner']}")
    response = alice.post(f"/tokens/tokens/{minted['id']}/renew")
    assert response.status_code == 403
    assert response.json["missing_roles"] == ["runner"]


def test_renew_only_own_tokens_with_roles(alice, world, api, seed, state):
    minted = _mint(alice, world["server"], ["viewer"]).json
    seed.user("bob")
    bob = api()
    bob.sign_in("bob", USER_PASSWORD)
    response = bob.post(f"/tokens/tokens/{minted['id']}/renew")
    assert response.status_code == 404
    assert response.json["message"] == f"No token with id {minted['id']}."
    assert alice.post("/tokens/tokens/999/renew").status_code == 404
    # a token from before roles were recorded
    with state.database.sessions() as session, session.begin():
        session.get(TokenHistory, minted["id"]).roles = []
    response = alice.post(f"/tokens/tokens/{minted['id']}/renew")
    assert response.status_code == 400
    assert "no recorded roles" in response.json["message"]
    assert (
        alice.post(
            f"/tokens/tokens/{minted['id']}/renew", data="[1]", content_type="application/json"
        ).status_code
        == 400
    )


# -- the minting limit ----------------------------------------------------------------------------------------


def _limit_minting(state, most: int) -> None:
    state.settings = replace(state.settings, token_mint_max=most, token_mint_window_seconds=600)


def test_minting_is_limited_per_user(alice, world, state, api, seed):
    _limit_minting(state, 3)
    assert _mint(alice, world["server"], ["viewer"], lifetime_minutes=601).status_code == 400
    first = _mint(alice, world["server"], ["viewer"]).json  # a refused mint did not count
    assert _mint(alice, world["server"], ["viewer"]).status_code == 200
    assert alice.post(f"/tokens/tokens/{first['id']}/renew").status_code == 200  # renewing counts
    for refused in (
        _mint(alice, world["server"], ["viewer"]),
        alice.post(f"/tokens/tokens/{first['id']}/renew"),
    ):
        assert refused.status_code == 429
        wait = refused.json["retry_after"]
        assert 590 <= wait <= 600
        assert refused.json == {
            "message": f"Too many tokens minted: try again in {wait} seconds.",
            "code": 429,
            "retry_after": wait,
        }
        assert refused.headers["Retry-After"] == str(wait)
    assert len(seed.rows(TokenHistory, user_id=world["alice"])) == 3
    # another user has their own count
    bob = seed.user("bob")
    seed.role(world["server"], "bobs", users=(bob,))
    other = api()
    other.sign_in("bob", USER_PASSWORD)
    assert _mint(other, world["server"], ["bobs"]).status_code == 200


@pytest.mark.parametrize("database_uri", ["sqlite", "postgresql"], indirect=True)
def test_concurrent_mints_stop_at_the_limit(alice, world, state):
    _limit_minting(state, 3)
    start, statuses = threading.Barrier(12), []

    def mint() -> None:
        start.wait()
        statuses.append(_mint(alice, world["server"], ["viewer"]).status_code)

    threads = [threading.Thread(target=mint) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] * 3 + [429] * 9
