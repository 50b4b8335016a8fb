"""Servers (admin): FlowKit's checks and shapes, NULL caps, scope sync, reading a FlowAPI spec."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import USER_PASSWORD
from flowauth.models import Role, Scope, TokenHistory
from flowdb.testing import free_port

SPEC = {
    "openapi": "3.0.1",
    "components": {
        "securitySchemes": {
            "token": {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "JWT",
                "x-audience": "TEST_SERVER",
                "x-security-scopes": [
                    "run",
                    "get_result",
                    "admin3:spatial_aggregate:daily_location",
                    "get_result",
                ],
            }
        }
    },
}


def _new_server(admin, **fields):
    body = {
        "name": "TEST_SERVER",
        "latest_token_expiry": "2030-01-31T00:00:00.000000Z",
        "longest_token_life_minutes": 1440,
        **fields,
    }
    return admin.post("/admin/servers", body)


def test_create_and_read_a_server(admin):
    response = _new_server(admin, scopes=["run", "get_result"])
    assert response.status_code == 200
    server_id = response.json["id"]
    assert admin.get("/admin/servers").json == [{"id": server_id, "name": "TEST_SERVER"}]
    assert admin.get(f"/admin/servers/{server_id}").json == {
        "id": server_id,
        "name": "TEST_SERVER",
        "longest_token_life_minutes": 1440,
        "latest_token_expiry": "2030-01-31T00:00:00.000000Z",
    }
    assert admin.get(f"/admin/servers/{server_id}/time_limits").json == {
        "longest_token_life_minutes": 1440,
        "latest_token_expiry": "2030-01-31T00:00:00.000000Z",
    }
    scopes = admin.get(f"/admin/servers/{server_id}/scopes").json
    assert [(s["name"], s["enabled"]) for s in scopes] == [("get_result", True), ("run", True)]


def test_dates_in_other_iso_forms_are_stored_as_utc(admin):
    server_id = _new_server(admin, latest_token_expiry="2030-01-31T02:00:00+02:00").json["id"]
    body = admin.get(f"/admin/servers/{server_id}").json
    assert body["latest_token_expiry"] == "2030-01-31T00:00:00.000000Z"


@pytest.mark.parametrize("expiry", [None, ""])
def test_no_absolute_cap(admin, expiry):
    server_id = _new_server(admin, latest_token_expiry=expiry).json["id"]
    assert admin.get(f"/admin/servers/{server_id}").json["latest_token_expiry"] is None
    assert admin.get(f"/admin/servers/{server_id}/time_limits").json["latest_token_expiry"] is None
    assert admin.get(f"/admin/servers/{server_id}/roles").json == []


def test_absent_expiry_means_no_cap(admin):
    response = admin.post("/admin/servers", {"name": "S", "longest_token_life_minutes": 60})
    assert response.status_code == 200
    assert admin.get(f"/admin/servers/{response.json['id']}").json["latest_token_expiry"] is None


@pytest.mark.parametrize(
    ("fields", "message", "field"),
    [
        ({"name": None}, "Must provide server name", "name"),
        ({"name": ""}, "Must provide server name", "name"),
        ({"name": "x" * 121}, "Server name must be 120 characters or less.", "name"),
        ({"latest_token_expiry": "31/01/2030"}, None, "latest_token_expiry"),
        ({"longest_token_life_minutes": 0}, None, "longest_token_life_minutes"),
        ({"longest_token_life_minutes": "ten"}, None, "longest_token_life_minutes"),
        ({"longest_token_life_minutes": None}, None, "longest_token_life_minutes"),
        ({"scopes": "run"}, None, "scopes"),
        ({"roles": [1]}, None, "roles"),
        ({"secret_key": "x"}, "Invalid key secret_key.", "secret_key"),
    ],
)
def test_create_server_validation(admin, fields, message, field):
    response = _new_server(admin, **fields)
    assert response.status_code == 400
    assert response.json["bad_field"] == field
    if message:
        assert response.json["message"] == message


def test_server_names_are_unique(admin):
    _new_server(admin)
    response = _new_server(admin)
    assert response.status_code == 400
    assert response.json == {
        "message": "Server with this name already exists.",
        "code": 400,
        "bad_field": "name",
    }


def test_edit_a_server(admin, seed):
    server_id = _new_server(admin).json["id"]
    other = seed.server("OTHER")
    response = admin.patch(
        f"/admin/servers/{server_id}",
        {"name": "RENAMED", "latest_token_expiry": None, "longest_token_life_minutes": 60,
         "scopes": ["ignored"], "id": 99},
    )  # fmt: skip
    assert response.json == {"id": server_id}
    assert admin.get(f"/admin/servers/{server_id}").json == {
        "id": server_id,
        "name": "RENAMED",
        "longest_token_life_minutes": 60,
        "latest_token_expiry": None,
    }
    assert admin.get(f"/admin/servers/{server_id}/scopes").json == []
    clash = admin.patch(f"/admin/servers/{server_id}", {"name": "OTHER"})
    assert clash.json["message"] == "Server with this name already exists."
    assert admin.patch(f"/admin/servers/{other}", {"name": "OTHER"}).status_code == 200
    assert admin.patch(f"/admin/servers/{server_id}", {"oops": 1}).json["bad_field"] == "oops"


def test_missing_server(admin):
    for path in ("/admin/servers/42", "/admin/servers/42/scopes", "/admin/servers/42/roles",
                 "/admin/servers/42/time_limits"):  # fmt: skip
        response = admin.get(path)
        assert response.status_code == 404
        assert response.json == {"message": "No server with id 42.", "code": 404}
    assert admin.delete("/admin/servers/42").status_code == 404
    assert admin.patch("/admin/servers/42", {}).status_code == 404


def test_server_roles(admin, seed, now):
    server_id = seed.server(latest=dt.datetime(2030, 1, 1))
    seed.role(server_id, "viewer", scopes=("get_result",), life=60)
    seed.role(server_id, "runner", scopes=("run", "get_result"), latest=dt.datetime(2029, 1, 1))
    assert admin.get(f"/admin/servers/{server_id}/roles").json == [
        {"id": 1, "name": "viewer", "scopes": ["get_result"], "latest_token_expiry": None,
         "longest_token_life_minutes": 60},
        {"id": 2, "name": "runner", "scopes": ["get_result", "run"],
         "latest_token_expiry": "2029-01-01T00:00:00.000000Z", "longest_token_life_minutes": 1440},
    ]  # fmt: skip


def test_delete_a_server_removes_its_roles_scopes_and_tokens(admin, api, seed):
    server_id = seed.server()
    user = seed.user("alice")
    seed.role(server_id, "viewer", users=(user,))
    keep = seed.server("KEEP")
    seed.role(keep, "viewer", users=(user,))
    client = api()
    client.sign_in("alice", USER_PASSWORD)
    minted = client.post(
        f"/tokens/tokens/{server_id}", {"name": "t", "roles": [{"name": "viewer"}]}
    )
    assert minted.status_code == 200
    assert admin.delete(f"/admin/servers/{server_id}").json == {"poll": "OK"}
    assert admin.get("/admin/servers").json == [{"id": keep, "name": "KEEP"}]
    assert seed.rows(Role, server_id=server_id) == []
    assert seed.rows(Scope, server_id=server_id) == []
    assert seed.rows(TokenHistory, server_id=server_id) == []
    assert len(seed.rows(Role, server_id=keep)) == 1


def test_scope_sync_makes_the_keys_the_scope_set(admin, seed):
    server_id = seed.server(scopes=("run", "get_result", "old:scope:x"))
    role_id = seed.role(server_id, "viewer", scopes=("get_result", "old:scope:x"))
    response = admin.post(
        f"/admin/servers/{server_id}/scopes",
        {"run": True, "get_result": False, "admin0:geography:geography": True},
    )
    assert response.status_code == 200
    assert [(s["name"], s["enabled"]) for s in response.json] == [
        ("admin0:geography:geography", True),
        ("get_result", True),
        ("run", True),
    ]
    ids = {s["name"]: s["id"] for s in response.json}
    assert admin.get(f"/admin/servers/{server_id}/scopes").json == response.json
    # the dropped scope left the role too; the kept ones kept their ids
    assert admin.get(f"/roles/{role_id}/scopes").json == [
        {"name": "get_result", "id": ids["get_result"]}
    ]
    assert admin.get(f"/roles/{role_id}").json["scopes"] == [ids["get_result"]]
    assert seed.rows(Scope, name="old:scope:x") == []


def test_scope_sync_accepts_a_list_and_refuses_junk(admin, seed):
    server_id = seed.server()
    response = admin.post(f"/admin/servers/{server_id}/scopes", ["b", "a", "a"])
    assert [s["name"] for s in response.json] == ["a", "b"]
    for junk in ("run", 5, [1], {"": True}, ["x" * 513]):
        response = admin.post(f"/admin/servers/{server_id}/scopes", junk)
        assert response.status_code == 400, junk
        assert response.json["bad_field"] == "scopes"
    assert admin.post(f"/admin/servers/{server_id}/scopes", {}).json == []


# -- reading a FlowAPI spec ---------------------------------------------------------------------------------


def test_read_a_spec_document(admin):
    for spec in (SPEC, json.dumps(SPEC)):
        response = admin.post("/admin/servers/spec", {"spec": spec})
        assert response.status_code == 200
        assert response.json == {
            "name": "TEST_SERVER",
            "scopes": ["admin3:spatial_aggregate:daily_location", "get_result", "run"],
        }
    assert admin.get("/admin/servers").json == []  # nothing stored


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("{not json", "The spec is not valid JSON"),
        ([1], "The spec must be a JSON object"),
        ({"openapi": "3.0.1"}, "no components.securitySchemes.token"),
        ({"components": {"securitySchemes": {"token": {"x-security-scopes": []}}}}, "no x-audience"),
        ({"components": {"securitySchemes": {"token": {"x-audience": "A"}}}}, "no x-security-scopes"),
        ({"components": {"securitySchemes": {"token": {"x-audience": 5, "x-security-scopes": []}}}},
         "x-audience in the spec must be a non-empty string"),
        ({"components": {"securitySchemes": {"token": {"x-audience": "A", "x-security-scopes": "run"}}}},
         "x-security-scopes in the spec must be a list"),
    ],
)  # fmt: skip
def test_bad_specs(admin, spec, message):
    response = admin.post("/admin/servers/spec", {"spec": spec})
    assert response.status_code == 400
    assert message in response.json["message"]
    assert response.json["bad_field"] == "spec"


def test_spec_needs_spec_or_url(admin):
    response = admin.post("/admin/servers/spec", {})
    assert response.status_code == 400
    assert response.json["bad_field"] == "spec"


class _FakeFlowAPI(BaseHTTPRequestHandler):
    routes: dict[str, tuple[int, bytes]] = {}

    def do_GET(self) -> None:
        status, body = self.routes.get(self.path, (404, b"not found"))
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def flowapi_url() -> Iterator[str]:
    _FakeFlowAPI.routes = {
        "/api/0/spec/openapi.json": (200, json.dumps(SPEC).encode()),
        "/broken/api/0/spec/openapi.json": (200, b"<html>hello</html>"),
        "/failing/api/0/spec/openapi.json": (500, b"{}"),
        "/array/api/0/spec/openapi.json": (200, b"[1]"),
    }
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeFlowAPI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_fetch_a_spec_from_a_flowapi(admin, flowapi_url):
    for url in (flowapi_url, flowapi_url + "/", flowapi_url + "/api/0/spec/openapi.json"):
        response = admin.post("/admin/servers/spec", {"url": url})
        assert response.status_code == 200, response.json
        assert response.json["name"] == "TEST_SERVER"


def test_fetch_errors(admin, flowapi_url):
    cases = [
        (flowapi_url + "/broken", "did not answer with JSON"),
        (flowapi_url + "/failing", "answered 500"),
        (flowapi_url + "/array", "did not answer with an OpenAPI document"),
        (flowapi_url + "/nothing", "answered 404"),
        (f"http://127.0.0.1:{free_port()}", "Could not reach"),
        ("ftp://example.org", "is not a FlowAPI URL"),
        ("not a url", "is not a FlowAPI URL"),
    ]
    for url, message in cases:
        response = admin.post("/admin/servers/spec", {"url": url})
        assert response.status_code == 400, url
        assert message in response.json["message"], (url, response.json)
        assert response.json["bad_field"] == "url"
    assert admin.post("/admin/servers/spec", {"url": 5}).json["bad_field"] == "url"
