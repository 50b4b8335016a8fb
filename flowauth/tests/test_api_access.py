"""Who may call what: 401 before sign-in, 403 for non-admins on every admin route, 403 for everything but the
two-factor setup while that setup is required; and no route answers a bad request with a 500."""

from __future__ import annotations

import itertools

import pytest

from conftest import USER_PASSWORD, ApiClient

# Routes a user who must still set up two-factor may use (besides signing in).
BEFORE_TWO_FACTOR = {
    "/is_signed_in",
    "/signout",
    "/version",
    "/user/enable_two_factor",
    "/user/confirm_two_factor",
    "/user/two_factor_required",
    "/user/two_factor_active",
}
PUBLIC = {"/signin", "/signout", "/version"}


def api_routes(app, id_value: str = "1") -> list[tuple[str, str, str]]:
    """(method, path with ids filled in, rule) for every JSON API route."""
    routes = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.startswith("pages."):
            continue
        path = rule.rule
        for name in rule.arguments:
            path = path.replace(f"<int:{name}>", id_value)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            routes.append((method, path, rule.rule))
    return routes


def test_the_route_table_is_complete(app):
    rules = {(method, rule) for method, _, rule in api_routes(app)}
    expected = {
        ("POST", "/signin"), ("GET", "/is_signed_in"), ("POST", "/signout"), ("GET", "/version"),
        ("GET", "/tokens/servers"), ("GET", "/tokens/servers/<int:server_id>"),
        ("GET", "/tokens/tokens/<int:server_id>"), ("POST", "/tokens/tokens/<int:server_id>"),
        ("POST", "/tokens/tokens/<int:token_id>/renew"),
        ("PATCH", "/user/password"), ("POST", "/user/enable_two_factor"),
        ("POST", "/user/confirm_two_factor"), ("POST", "/user/disable_two_factor"),
        ("GET", "/user/generate_two_factor_backups"), ("POST", "/user/generate_two_factor_backups"),
        ("GET", "/user/two_factor_required"), ("GET", "/user/two_factor_active"),
        ("GET", "/user/roles/server/<int:server_id>"), ("POST", "/user/password_strength"),
        ("GET", "/admin/servers"), ("POST", "/admin/servers"), ("POST", "/admin/servers/spec"),
        ("GET", "/admin/servers/<int:server_id>"), ("PATCH", "/admin/servers/<int:server_id>"),
        ("DELETE", "/admin/servers/<int:server_id>"),
        ("GET", "/admin/servers/<int:server_id>/scopes"),
        ("POST", "/admin/servers/<int:server_id>/scopes"),
        ("GET", "/admin/servers/<int:server_id>/roles"),
        ("GET", "/admin/servers/<int:server_id>/time_limits"),
        ("GET", "/admin/users"), ("POST", "/admin/users"), ("GET", "/admin/users/<int:user_id>"),
        ("PATCH", "/admin/users/<int:user_id>"), ("DELETE", "/admin/users/<int:user_id>"),
        ("GET", "/roles/"), ("POST", "/roles/"), ("GET", "/roles/<int:role_id>"),
        ("PATCH", "/roles/<int:role_id>"), ("DELETE", "/roles/<int:role_id>"),
        ("GET", "/roles/<int:role_id>/members"), ("GET", "/roles/<int:role_id>/scopes"),
        ("GET", "/roles/user/<int:user_id>"),
        ("GET", "/roles/server/<int:server_id>/user/<int:user_id>"),
        ("GET", "/admin/public_key"),
    }  # fmt: skip
    assert rules == expected


def test_signed_out_callers_get_401(app, anon):
    for method, path, _ in api_routes(app):
        if path in PUBLIC:
            continue
        response = anon.send(method, path, {})
        assert response.status_code == 401, (method, path)
        assert response.json["code"] == 401


def test_non_admins_get_403_on_every_admin_route(app, api, seed):
    server = seed.server()
    seed.role(server, "viewer", users=(seed.user("alice"),))
    client = api()
    client.sign_in("alice", USER_PASSWORD)
    admin_routes = [
        (method, path)
        for method, path, _ in api_routes(app)
        if path.startswith(("/admin/", "/roles/"))
    ]
    assert len(admin_routes) == 25
    for method, path in admin_routes:
        response = client.send(method, path, {})
        assert response.status_code == 403, (method, path)
        assert response.json == {"message": "Only administrators may do this.", "code": 403}
    # and nothing changed
    assert client.get("/tokens/servers").json == [{"id": server, "server_name": "TEST_SERVER"}]


def test_required_two_factor_setup_blocks_everything_else(app, anon, seed, totp):
    seed.role(seed.server(), "viewer", users=(seed.user("alice", require_two_factor=True),))
    assert anon.sign_in("alice", USER_PASSWORD).json["require_two_factor_setup"] is True
    for method, path, _ in api_routes(app):
        if path in BEFORE_TWO_FACTOR or path == "/signin":
            continue
        response = anon.send(method, path, {})
        assert response.status_code == 403, (method, path)
        assert response.json["need_two_factor_setup"] is True
        assert response.json["message"] == "Two-factor authentication must be set up first."

    assert anon.get("/user/two_factor_required").json == {"require_two_factor": True}
    assert anon.get("/user/two_factor_active").json == {"two_factor_enabled": False}
    setup = anon.post("/user/enable_two_factor").json
    secret = setup["secret"].split(".")[0]
    response = anon.post(
        "/user/confirm_two_factor",
        {
            "two_factor_code": totp(secret),
            "secret": setup["secret"],
            "backup_codes_signature": setup["backup_codes_signature"],
        },
    )
    assert response.status_code == 200
    assert anon.get("/is_signed_in").json["require_two_factor_setup"] is False
    assert anon.get("/tokens/servers").status_code == 200


def test_an_admin_who_must_set_up_two_factor_is_blocked_too(anon, seed):
    seed.user("root", is_admin=True, require_two_factor=True)
    anon.sign_in("root", USER_PASSWORD)
    assert anon.get("/admin/users").status_code == 403


BAD_BODIES = [
    None,
    "not json",
    "[]",
    "null",
    "5",
    '{"name": 5, "username": [], "password": 7, "roles": "x", "scopes": 3, "users": {}}',
    '{"name": "", "latest_token_expiry": "tomorrow", "longest_token_life_minutes": -1}',
    '{"name": "x", "server_id": "abc", "scopes": [true], "lifetime_minutes": 1e400}',
    '{"name": "x", "server_id": 99999999999999999999, "roles": [{"name": 1}], "users": [1e9]}',
    '{"is_admin": "yes", "require_two_factor": 1, "has_two_factor": "no", "roles": [-1]}',
    '{"two_factor_code": 123, "secret": [], "backup_codes_signature": {}}',
    '{"password": null, "newPassword": 5, "spec": "{", "url": "ftp://x"}',
    '{"spec": {"components": []}}',
    '{"latest_token_expiry": "0001-01-01T00:00:00+05:00", "longest_token_life_minutes": 1e9}',
    '{"name": "a\\u0000b", "username": "x\\u0000", "password": "\\u0000", "a\\u0000": 1}',
    "[" * 100_000,
    '{"spec": "' + "[" * 100_000 + '"}',
]


@pytest.mark.parametrize("id_value", ["1", "999999", "99999999999999999999"])
def test_bad_requests_never_get_a_500(app, admin, seed, id_value):
    server = seed.server()
    seed.role(server, "viewer", users=(seed.user("alice"),))
    for (method, path, _), body in itertools.product(api_routes(app, id_value), BAD_BODIES):
        if path in ("/signout",) or method == "DELETE":
            continue
        if method == "GET" and body is not None:
            continue
        response = admin.send(method, path, data=body, content_type="application/json")
        assert response.status_code < 500, (method, path, body, response.json)
        if response.status_code >= 400:
            assert isinstance(response.json.get("message"), str), (method, path, body)
            assert response.json["code"] == response.status_code


def test_unexpected_errors_answer_json_without_a_trace(settings):
    import sqlite3

    from sqlalchemy.exc import IntegrityError

    from flowauth.app import create_app

    app = create_app(settings)

    def unique() -> None:
        raise IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE constraint failed: x.y"))

    def foreign() -> None:
        raise IntegrityError("INSERT", {}, sqlite3.IntegrityError("FOREIGN KEY constraint failed"))

    def broken() -> None:
        raise RuntimeError("secret detail")

    for view in (unique, foreign, broken):
        app.add_url_rule(f"/test/{view.__name__}", view.__name__, view)
    client = app.test_client()
    assert client.get("/test/unique").json == {
        "message": "Name already exists", "code": 400, "status": 400, "statusText": "Name already exists",
    }  # fmt: skip
    assert client.get("/test/foreign").status_code == 409
    response = client.get("/test/broken")
    assert response.status_code == 500
    assert response.json == {
        "message": "Internal error: the server could not do that.",
        "code": 500,
    }
    missing = client.get("/no/such/route").json
    assert missing["code"] == 404 and isinstance(missing["message"], str)
    too_big = ApiClient(client).post(
        "/signin", data="x" * (6 * 1024 * 1024), content_type="application/json"
    )
    assert too_big.status_code == 413
    assert too_big.json["code"] == 413
    app.extensions["flowauth"].database.dispose()
