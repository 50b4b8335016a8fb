"""Users (admin): FlowKit's checks and messages, the last administrator, two-factor removal."""

from __future__ import annotations

import random
import string

import pytest

from conftest import ADMIN_PASSWORD, ADMIN_USERNAME, USER_PASSWORD
from flowauth.models import TwoFactorAuth, TwoFactorBackup, User

STRONG = "Quartz-Pelican-Sunrise-88"


def test_create_and_read_a_user(admin, api, seed):
    server = seed.server()
    viewer = seed.role(server, "viewer")
    response = admin.post(
        "/admin/users",
        {"username": "alice", "password": STRONG, "is_admin": False,
         "require_two_factor": True, "roles": [viewer]},
    )  # fmt: skip
    assert response.status_code == 200
    user_id = response.json["id"]
    assert admin.get("/admin/users").json == [
        {"id": 1, "name": ADMIN_USERNAME},
        {"id": user_id, "name": "alice"},
    ]
    assert admin.get(f"/admin/users/{user_id}").json == {
        "id": user_id,
        "name": "alice",
        "is_admin": False,
        "has_two_factor": False,
        "require_two_factor": True,
        "roles": [{"id": viewer, "name": "viewer", "server": server, "server_name": "TEST_SERVER"}],
    }
    assert api().sign_in("alice", STRONG).status_code == 200
    (row,) = seed.rows(User, username="alice")
    assert STRONG not in row.password_hash and row.password_hash.startswith("$argon2")


@pytest.mark.parametrize(
    ("body", "message", "field"),
    [
        ({"username": "alice"}, "Password must be provided.", "password"),
        ({"username": "alice", "password": ""}, "Password must be provided.", "password"),
        ({"username": "alice", "password": "password123"}, "Password not complex enough.", "password"),
        ({"username": "alice", "password": 12345}, "password must be a string.", "password"),
        ({"password": STRONG}, "Username must be provided.", "username"),
        ({"username": "  ", "password": STRONG}, "Username too short.", "username"),
        ({"username": "a" * 76, "password": STRONG}, "Username must be 75 characters or less.", "username"),
        ({"username": ADMIN_USERNAME, "password": STRONG}, "Username already exists.", "username"),
        ({"username": "alice", "password": STRONG, "is_admin": "yes"}, "is_admin must be true or false.", "is_admin"),
        ({"username": "alice", "password": STRONG, "roles": [99]}, "No role with id 99.", "roles"),
        ({"username": "alice", "password": STRONG, "roles": "1"}, "roles must be a list of ids.", "roles"),
        ({"username": "alice", "password": STRONG, "roles": ["1"]}, "roles must be a list of ids.", "roles"),
    ],
)  # fmt: skip
def test_create_user_validation(admin, body, message, field):
    response = admin.post("/admin/users", body)
    assert response.status_code == 400
    assert response.json == {"message": message, "code": 400, "bad_field": field}


def test_edit_a_user(admin, api, seed):
    server = seed.server()
    viewer, runner = seed.role(server, "viewer"), seed.role(server, "runner")
    user_id = seed.user("alice", roles=(viewer,))
    response = admin.patch(
        f"/admin/users/{user_id}",
        {"username": "alicia", "password": "", "is_admin": True, "require_two_factor": True,
         "roles": [runner]},
    )  # fmt: skip
    assert response.json == {"id": user_id}
    details = admin.get(f"/admin/users/{user_id}").json
    assert details["name"] == "alicia" and details["is_admin"] and details["require_two_factor"]
    assert [role["name"] for role in details["roles"]] == ["runner"]
    assert api().sign_in("alicia", USER_PASSWORD).status_code == 200  # empty password: unchanged

    assert admin.patch(f"/admin/users/{user_id}", {"password": STRONG}).status_code == 200
    assert api().sign_in("alicia", STRONG).status_code == 200
    assert admin.patch(f"/admin/users/{user_id}", {"roles": []}).status_code == 200
    assert admin.get(f"/admin/users/{user_id}").json["roles"] == []


@pytest.mark.parametrize(
    ("body", "message", "field"),
    [
        ({"username": ""}, "Username too short.", "username"),
        ({"username": ADMIN_USERNAME}, "Username already exists.", "username"),
        ({"password": "password123"}, "Password not complex enough.", "password"),
        ({"require_two_factor": "true"}, "require_two_factor must be true or false.", "require_two_factor"),
        ({"roles": [1, 2]}, "No roles with ids 1, 2.", "roles"),
    ],
)  # fmt: skip
def test_edit_user_validation(admin, seed, body, message, field):
    user_id = seed.user("alice")
    response = admin.patch(f"/admin/users/{user_id}", body)
    assert response.status_code == 400
    assert response.json == {"message": message, "code": 400, "bad_field": field}


def test_the_last_admin_cannot_be_demoted_or_removed(admin, seed):
    response = admin.patch("/admin/users/1", {"is_admin": False})
    assert response.status_code == 400
    assert response.json == {
        "message": "Removing this user's admin rights would leave no admins.",
        "code": 400,
        "bad_field": "is_admin",
    }
    response = admin.delete("/admin/users/1")
    assert response.status_code == 400
    assert response.json["message"] == "Removing this user would leave no admins."

    other = seed.user("root", is_admin=True)
    assert admin.patch(f"/admin/users/{other}", {"is_admin": False}).status_code == 200
    assert admin.patch(f"/admin/users/{other}", {"is_admin": True}).status_code == 200
    assert admin.patch("/admin/users/1", {"is_admin": False}).status_code == 200
    assert admin.get("/admin/users/1").status_code == 403  # no longer an admin


def test_an_admin_may_remove_themselves_when_another_admin_remains(admin, seed):
    seed.user("root", is_admin=True)
    assert admin.delete("/admin/users/1").json == {"poll": "OK"}
    assert admin.get("/is_signed_in").status_code == 401


def test_delete_a_user(admin, seed):
    user_id = seed.user("alice")
    seed.two_factor(user_id, backup_codes=("abc",))
    assert admin.delete(f"/admin/users/{user_id}").json == {"poll": "OK"}
    assert admin.get(f"/admin/users/{user_id}").status_code == 404
    assert seed.rows(TwoFactorAuth) == [] and seed.rows(TwoFactorBackup) == []
    assert admin.delete(f"/admin/users/{user_id}").status_code == 404


def test_admin_removes_a_users_two_factor(admin, api, seed, totp):
    user_id = seed.user("alice")
    secret = seed.two_factor(user_id, backup_codes=("abc",))
    client = api()
    client.sign_in("alice", USER_PASSWORD, totp(secret))
    assert admin.get(f"/admin/users/{user_id}").json["has_two_factor"] is True
    assert admin.patch(f"/admin/users/{user_id}", {"has_two_factor": False}).status_code == 200
    assert admin.get(f"/admin/users/{user_id}").json["has_two_factor"] is False
    assert seed.rows(TwoFactorAuth) == [] and seed.rows(TwoFactorBackup) == []
    assert client.get("/is_signed_in").status_code == 401  # that session ended
    assert api().sign_in("alice", USER_PASSWORD).status_code == 200  # no code needed now
    # no two-factor to remove: fine (FlowKit issue 1374)
    assert admin.patch(f"/admin/users/{user_id}", {"has_two_factor": False}).status_code == 200


def test_admin_changing_own_password_stays_signed_in(admin, api):
    assert admin.patch("/admin/users/1", {"password": STRONG}).status_code == 200
    assert admin.get("/is_signed_in").status_code == 200
    assert api().sign_in(ADMIN_USERNAME, ADMIN_PASSWORD).status_code == 401
    assert api().sign_in(ADMIN_USERNAME, STRONG).status_code == 200


def test_missing_user(admin):
    for method in ("GET", "PATCH", "DELETE"):
        response = admin.send(method, "/admin/users/77", {})
        assert response.status_code == 404
        assert response.json == {"message": "No user with id 77.", "code": 404}


def test_ensure_admin(state, api, seed, caplog):
    from flowauth.bootstrap import ensure_admin

    user_id = seed.user("alice")
    client = api()
    client.sign_in("alice", USER_PASSWORD)
    with caplog.at_level("WARNING", logger="flowauth.bootstrap"):
        ensure_admin(state.database, "alice", "weak")  # FlowKit allows it here: a warning only
    assert "weak" in caplog.text
    assert client.get("/is_signed_in").status_code == 401  # the password changed: sessions end
    signed_in = api().sign_in("alice", "weak")
    assert signed_in.json["is_admin"] is True
    (row,) = seed.rows(User, id=user_id)
    hashed = row.password_hash
    caplog.clear()
    with caplog.at_level("WARNING", logger="flowauth.bootstrap"):
        ensure_admin(state.database, "newbie", STRONG)
    assert caplog.text == ""
    assert api().sign_in("newbie", STRONG).json["is_admin"] is True
    # the same password again (every start): nothing changes, sessions go on
    admin_client = api()
    admin_client.sign_in(ADMIN_USERNAME, ADMIN_PASSWORD)
    ensure_admin(state.database, ADMIN_USERNAME, ADMIN_PASSWORD)
    assert admin_client.get("/is_signed_in").status_code == 200
    assert seed.rows(User, id=user_id)[0].password_hash == hashed
    with pytest.raises(ValueError):
        ensure_admin(state.database, " ", STRONG)


# -- long passwords -------------------------------------------------------------------------------------------


def _random_password(length: int, seed: int = 0) -> str:
    return "".join(random.Random(seed).choices(string.ascii_letters + string.digits, k=length))


@pytest.mark.parametrize("length", [73, 256, 1024])
def test_long_passwords_work_everywhere(admin, api, length):
    """zxcvbn refuses more than 72 characters: that must not make any of these fail."""
    first, second, third = (_random_password(length, seed) for seed in (1, 2, 3))
    user_id = admin.post("/admin/users", {"username": "alice", "password": first}).json["id"]
    assert api().sign_in("alice", first).status_code == 200
    assert admin.patch(f"/admin/users/{user_id}", {"password": second}).status_code == 200
    client = api()
    assert client.sign_in("alice", second).status_code == 200
    changed = client.patch("/user/password", {"password": second, "newPassword": third})
    assert changed.status_code == 200
    assert api().sign_in("alice", third).status_code == 200
    assert client.post("/user/password_strength", {"password": third}).json["score"] == 4


def test_passwords_over_the_maximum_are_refused(admin, anon, seed):
    seed.user("alice")
    too_long = _random_password(1025)
    refusal = {"message": "Password must be at most 1024 characters.", "code": 400}
    for response in (
        admin.post("/admin/users", {"username": "bob", "password": too_long}),
        admin.patch("/admin/users/1", {"password": too_long}),
        admin.patch("/user/password", {"password": ADMIN_PASSWORD, "newPassword": too_long}),
    ):
        assert response.status_code == 400
        assert response.json["message"] == refusal["message"]
    assert anon.sign_in("alice", too_long).json == {**refusal, "bad_field": "password"}
    strength = admin.post("/user/password_strength", {"password": too_long}).json
    assert strength["score"] == 0 and strength["warning"] == refusal["message"]
