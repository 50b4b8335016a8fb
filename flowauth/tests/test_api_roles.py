"""Roles (admin): FlowKit's checks and shapes (scopes of the role's server, caps within the server's)."""

from __future__ import annotations

import datetime as dt

import pytest

from flowauth.models import Role


@pytest.fixture
def server(seed):
    return seed.server(latest=dt.datetime(2030, 1, 1), life=1440)


def _scope_ids(admin, server_id):
    return {s["name"]: s["id"] for s in admin.get(f"/admin/servers/{server_id}/scopes").json}


def _new_role(admin, server, **fields):
    body = {
        "name": "viewer",
        "server_id": server,
        "scopes": [_scope_ids(admin, server)["get_result"]],
        "latest_token_expiry": "2029-06-01T00:00:00.000000Z",
        "longest_token_life_minutes": 600,
        **fields,
    }
    return admin.post("/roles/", body)


def test_create_and_read_a_role(admin, seed, server):
    alice = seed.user("alice")
    scopes = _scope_ids(admin, server)
    response = _new_role(admin, server, users=[alice], scopes=[scopes["run"], scopes["get_result"]])
    assert response.status_code == 200
    role = response.json
    assert role == {
        "id": role["id"],
        "name": "viewer",
        "scopes": sorted([scopes["run"], scopes["get_result"]]),
        "latest_token_expiry": "2029-06-01T00:00:00.000000Z",
        "longest_token_life_minutes": 600,
        "server": server,
        "users": [alice],
    }
    assert admin.get(f"/roles/{role['id']}").json == role
    assert admin.get("/roles/").json == [role]
    assert admin.get(f"/roles/user/{alice}").json == [role]
    assert admin.get(f"/roles/server/{server}/user/{alice}").json == [role]
    assert admin.get(f"/roles/{role['id']}/members").json == [{"name": "alice", "id": alice}]
    assert admin.get(f"/roles/{role['id']}/scopes").json == [
        {"name": "get_result", "id": scopes["get_result"]},
        {"name": "run", "id": scopes["run"]},
    ]


def test_roles_without_an_absolute_cap(admin, seed, server):
    role = _new_role(admin, server, latest_token_expiry=None).json
    assert role["latest_token_expiry"] is None
    open_server = seed.server("OPEN")  # no cap on the server either
    role = _new_role(admin, open_server, latest_token_expiry="2099-01-01T00:00:00.000000Z").json
    assert role["latest_token_expiry"] == "2099-01-01T00:00:00.000000Z"


def test_user_roles_on_a_server(admin, seed, server):
    other = seed.server("OTHER")
    alice = seed.user("alice")
    mine = seed.role(server, "viewer", users=(alice,))
    seed.role(other, "viewer", users=(alice,))
    seed.role(server, "runner")
    assert [r["id"] for r in admin.get(f"/roles/server/{server}/user/{alice}").json] == [mine]
    assert len(admin.get(f"/roles/user/{alice}").json) == 2
    assert admin.get(f"/roles/server/{server}/user/99").status_code == 404
    assert admin.get(f"/roles/server/99/user/{alice}").status_code == 404


@pytest.mark.parametrize(
    ("fields", "message", "field", "code"),
    [
        ({"latest_token_expiry": "2031-01-01T00:00:00.000000Z"},
         "Role cannot exist past latest token in server", "latest_token_expiry", 400),
        ({"longest_token_life_minutes": 1441},
         "Role cannot have a maximum lifetime greater than server", "longest_token_life_minutes", 400),
        ({"longest_token_life_minutes": 0}, None, "longest_token_life_minutes", 400),
        ({"latest_token_expiry": "soon"}, None, "latest_token_expiry", 400),
        ({"name": ""}, "Role name cannot be blank.", "name", 400),
        ({"name": None}, "Role name cannot be blank.", "name", 400),
        ({"name": "x" * 76}, "Role name must be 75 characters or less.", "name", 400),
        ({"server_id": None}, "server_id must be the id of a server.", "server_id", 400),
        ({"server_id": 99}, "No server with id 99.", "server_id", 404),
        ({"scopes": [999]}, "No scope with id 999.", "scopes", 400),
        ({"users": [999]}, "No user with id 999.", "users", 400),
        ({"users": "all"}, "users must be a list of ids.", "users", 400),
        ({"users": ["1"]}, "users must be a list of ids.", "users", 400),
        ({"scopes": [True]}, "scopes must be a list of ids.", "scopes", 400),
        ({"server_id": "1"}, "server_id must be the id of a server.", "server_id", 400),
        ({"longest_token_life_minutes": "60"}, None, "longest_token_life_minutes", 400),
    ],
)  # fmt: skip
def test_create_role_validation(admin, server, fields, message, field, code):
    response = _new_role(admin, server, **fields)
    assert response.status_code == code
    assert response.json["bad_field"] == field
    if message:
        assert response.json["message"] == message


def test_scopes_must_be_of_the_role_server(admin, seed, server):
    other = seed.server("OTHER")
    foreign = _scope_ids(admin, other)["run"]
    response = _new_role(admin, server, scopes=[foreign])
    assert response.status_code == 400
    assert response.json["message"] == "Scope server must match role server"
    role_id = _new_role(admin, server).json["id"]
    response = admin.patch(f"/roles/{role_id}", {"scopes": [foreign]})
    assert response.json["message"] == "Scope server must match role server"


def test_names_are_unique_per_server(admin, seed, server):
    assert _new_role(admin, server).status_code == 200
    response = _new_role(admin, server)
    assert response.status_code == 400
    assert response.json["message"] == "Name already exists"
    assert response.json["statusText"] == "Name already exists"
    other = seed.server("OTHER")
    assert _new_role(admin, other, scopes=[]).status_code == 200


def test_edit_a_role(admin, seed, server):
    alice, bob = seed.user("alice"), seed.user("bob")
    role_id = _new_role(admin, server, users=[alice]).json["id"]
    scopes = _scope_ids(admin, server)
    response = admin.patch(
        f"/roles/{role_id}",
        {"id": 123, "name": "reader", "users": [bob], "scopes": [scopes["run"]],
         "latest_token_expiry": None, "longest_token_life_minutes": 30},
    )  # fmt: skip
    assert response.status_code == 200
    assert response.json == {  # ours: the edited role (FlowKit answered every role)
        "id": role_id,
        "name": "reader",
        "scopes": [scopes["run"]],
        "latest_token_expiry": None,
        "longest_token_life_minutes": 30,
        "server": server,
        "users": [bob],
    }


@pytest.mark.parametrize(
    ("edit", "message", "field"),
    [
        ({"server_id": 2}, "Invalid key server_id", "server_id"),
        ({"latest_token_expiry": "2031-01-01T00:00:00.000000Z"},
         "Role cannot exist past latest token in server", "latest_token_expiry"),
        # FlowKit checked a misspelt key here, so a too-long life got through
        ({"longest_token_life_minutes": 5000},
         "Role cannot have a maximum lifetime greater than server", "longest_token_life_minutes"),
        ({"name": "runner"}, "Name already exists", "name"),
        ({"users": [55]}, "No user with id 55.", "users"),
    ],
)  # fmt: skip
def test_edit_role_validation(admin, seed, server, edit, message, field):
    seed.role(server, "runner")
    role_id = _new_role(admin, server).json["id"]
    before = admin.get(f"/roles/{role_id}").json
    response = admin.patch(f"/roles/{role_id}", edit)
    assert response.status_code == 400
    assert response.json["message"] == message
    assert response.json["bad_field"] == field
    assert admin.get(f"/roles/{role_id}").json == before


def test_delete_a_role(admin, seed, server):
    alice = seed.user("alice")
    role_id = seed.role(server, "viewer", users=(alice,))
    assert admin.delete(f"/roles/{role_id}").json == {"state": "done"}
    assert admin.get(f"/roles/{role_id}").status_code == 404
    assert seed.rows(Role) == []
    assert admin.get(f"/admin/users/{alice}").json["roles"] == []
    assert admin.delete(f"/roles/{role_id}").status_code == 404


def test_missing_role(admin):
    for path in ("/roles/5", "/roles/5/members", "/roles/5/scopes", "/roles/user/5"):
        response = admin.get(path)
        assert response.status_code == 404, path
    assert admin.patch("/roles/5", {}).json == {"message": "No role with id 5.", "code": 404}
