"""Servers (admin): FlowKit's checks and shapes, NULL caps, scope sync, reading a FlowAPI spec."""

from __future__ import annotations

import datetime as dt
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import USER_PASSWORD
from flowauth.api_spec import SpecError, fetch_document, origin
from flowauth.blueprints.servers import FETCH_FAILED
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
        ({"longest_token_life_minutes": "1440"}, None, "longest_token_life_minutes"),
        ({"longest_token_life_minutes": 1440.0}, None, "longest_token_life_minutes"),
        ({"longest_token_life_minutes": True}, None, "longest_token_life_minutes"),
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
    routes: dict[str, tuple[int, bytes, dict[str, str]]] = {}

    def do_GET(self) -> None:
        status, body, headers = self.routes.get(self.path, (404, b"not found", {}))
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.path.startswith("/drip/"):  # one byte at a time, until the client hangs up
            try:
                while True:
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(0.05)
            except OSError:
                return
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A loopback port that only counts the connections made to it (`_connections`)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.setblocking(False)
    yield sock
    sock.close()


def _connections(sock: socket.socket) -> int:
    count = 0
    while True:
        try:
            conn, _ = sock.accept()
        except BlockingIOError:
            return count
        conn.close()
        count += 1


def _url(sock: socket.socket) -> str:
    return f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture
def flowapi_url(listener: socket.socket) -> Iterator[str]:
    """A stand-in FlowAPI on a loopback port; /moved redirects to the `listener`."""
    _FakeFlowAPI.routes = {
        "/api/0/spec/openapi.json": (200, json.dumps(SPEC).encode(), {}),
        "/broken/api/0/spec/openapi.json": (200, b"<html>hello</html>", {}),
        "/failing/api/0/spec/openapi.json": (500, b"{}", {}),
        "/array/api/0/spec/openapi.json": (200, b"[1]", {}),
        "/moved/api/0/spec/openapi.json": (
            302,
            b"",
            {"Location": f"{_url(listener)}/api/0/spec/openapi.json"},
        ),
        "/drip/api/0/spec/openapi.json": (200, b"", {}),
    }
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeFlowAPI)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _allow(state, *urls: str) -> None:
    """FLOWAUTH_SPEC_URL_ORIGINS as if set to `urls`."""
    state.settings = replace(state.settings, spec_url_origins=frozenset(map(origin, urls)))


def test_fetch_a_spec_from_a_flowapi(admin, state, flowapi_url):
    _allow(state, flowapi_url.replace("127.0.0.1", "127.0.0.1".upper()) + "/")
    for url in (flowapi_url, flowapi_url + "/", flowapi_url + "/api/0/spec/openapi.json"):
        response = admin.post("/admin/servers/spec", {"url": url})
        assert response.status_code == 200, response.json
        assert response.json["name"] == "TEST_SERVER"


def test_fetching_is_off_unless_configured(admin, listener):
    response = admin.post("/admin/servers/spec", {"url": _url(listener)})
    assert response.status_code == 400
    assert response.json == {
        "message": "Fetching a spec from a URL is turned off (FLOWAUTH_SPEC_URL_ORIGINS): "
        "upload the spec file instead.",
        "code": 400,
        "bad_field": "url",
    }
    assert _connections(listener) == 0


def test_other_addresses_are_refused_before_any_connection(admin, state, flowapi_url, listener):
    _allow(state, flowapi_url)
    port = flowapi_url.rsplit(":", 1)[1]
    other = _url(listener)
    for url in (
        other,
        other + "/api/0/spec/openapi.json",
        f"https://127.0.0.1:{port}",  # another scheme is another origin
        f"http://localhost:{port}",  # a name, not the address allowed
    ):
        response = admin.post("/admin/servers/spec", {"url": url})
        assert response.status_code == 400, url
        assert (
            "only from the FlowAPIs listed in FLOWAUTH_SPEC_URL_ORIGINS" in response.json["message"]
        )
    for url in (
        "ftp://127.0.0.1/spec.json",
        "not a url",
        f"http://127.0.0.1:{port}0000",
        f"http://127.0.0.1:{port}@127.0.0.1:{other.rsplit(':', 1)[1]}",  # goes to the part after @
    ):
        response = admin.post("/admin/servers/spec", {"url": url})
        assert response.status_code == 400, url
        assert "is not a FlowAPI URL" in response.json["message"]
    assert admin.post("/admin/servers/spec", {"url": 5}).json["bad_field"] == "url"
    assert _connections(listener) == 0


@pytest.fixture
def not_http() -> Iterator[str]:
    """A loopback port that answers every connection with a line that is not HTTP, then hangs up."""
    sock = socket.create_server(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            with conn:
                conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield _url(sock)
    stop.set()
    thread.join(timeout=5)
    sock.close()


def test_every_fetch_failure_gives_one_message(
    admin, state, flowapi_url, listener, not_http, caplog
):
    """Closed port, a port open to another protocol, HTTP errors, a redirect, not JSON: one answer (no port
    scan through it); the reasons are in the log."""
    caplog.set_level(logging.WARNING, logger="flowauth")
    closed = f"http://127.0.0.1:{free_port()}"
    _allow(state, flowapi_url, closed, not_http, _url(listener))
    for url in (
        not_http,
        flowapi_url + "/broken",
        flowapi_url + "/failing",
        flowapi_url + "/array",
        flowapi_url + "/nothing",
        flowapi_url + "/moved",
        closed,
    ):
        response = admin.post("/admin/servers/spec", {"url": url})
        assert response.status_code == 400, url
        assert response.json == {"message": FETCH_FAILED, "code": 400, "bad_field": "url"}, url
    assert _connections(listener) == 0  # the redirect was not followed
    assert "redirects are not followed" in caplog.text and "answered 500" in caplog.text


def test_a_fetch_is_bounded_in_time(flowapi_url):
    started = time.monotonic()
    with pytest.raises(SpecError):
        fetch_document(flowapi_url + "/drip", timeout=0.5)
    assert time.monotonic() - started < 2
