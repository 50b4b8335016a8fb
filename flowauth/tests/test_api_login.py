"""Signing in and out: passwords, two-factor codes (replay, backup codes), the throttle, session lifetime and
CSRF."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from itsdangerous import TimestampSigner

from conftest import ADMIN_PASSWORD, ADMIN_USERNAME, USER_PASSWORD
from flowauth import login_sessions, ratelimit, throttle
from flowauth.blueprints import login
from flowauth.errors import ApiError
from flowauth.models import LoginSession, RateCounter, TwoFactorBackup, utcnow


def test_version_and_csrf_cookie(anon):
    response = anon.get("/version")
    assert response.status_code == 200
    assert response.json == {"version": "0.1.0"}
    assert anon.client.get_cookie("X-CSRF") is not None


def test_sign_in_and_out(anon, seed):
    seed.user("alice")
    assert anon.get("/is_signed_in").status_code == 401
    response = anon.sign_in("alice", USER_PASSWORD)
    assert response.status_code == 200
    assert response.json == {
        "logged_in": True,
        "is_admin": False,
        "require_two_factor_setup": False,
    }
    assert anon.get("/is_signed_in").json == {
        "logged_in": True,
        "is_admin": False,
        "require_two_factor_setup": False,
        "username": "alice",
    }
    session_cookie = anon.client.get_cookie("session")
    assert session_cookie is not None and session_cookie.http_only
    assert anon.post("/signout").json == {"logged_in": False}
    assert anon.get("/is_signed_in").status_code == 401
    assert anon.post("/signout").json == {"logged_in": False}  # signed out already: still fine


def test_admin_sign_in(anon):
    response = anon.sign_in(ADMIN_USERNAME, ADMIN_PASSWORD)
    assert response.json["is_admin"] is True


@pytest.mark.parametrize(
    ("username", "password"), [("alice", "wrong-password"), ("nobody", USER_PASSWORD)]
)
def test_wrong_password_or_user(anon, seed, username, password):
    seed.user("alice")
    response = anon.sign_in(username, password)
    assert response.status_code == 401
    assert response.json == {"message": "Incorrect username or password.", "code": 401}
    assert anon.get("/is_signed_in").status_code == 401


@pytest.mark.parametrize(
    "body",
    [{}, {"username": "alice"}, {"password": "x"}, {"username": "", "password": "x"},
     {"username": 5, "password": "x"}, {"username": "a", "password": ["x"]}],
)  # fmt: skip
def test_sign_in_needs_username_and_password(anon, body):
    response = anon.post("/signin", body)
    assert response.status_code == 400
    assert response.json["message"] == "Must supply username or password."


@pytest.mark.parametrize("data", ["not json", "[1, 2]", "null"])
def test_sign_in_with_a_body_that_is_not_an_object(anon, data):
    response = anon.post("/signin", data=data, content_type="application/json")
    assert response.status_code == 400
    assert response.json["message"] == "The request body must be a JSON object."


def test_nul_characters_are_refused(anon):
    response = anon.post("/signin", {"username": "al\x00ice", "password": "x"})
    assert response.status_code == 400
    assert response.json["message"] == "Text must not contain NUL characters."


def _nested(levels: int) -> str:
    """A sign-in body whose arrays and objects nest `levels` deep."""
    inner = "[" * (levels - 1) + "]" * (levels - 1)
    return '{"username": "alice", "password": "x", "deep": ' + inner + "}"


@pytest.mark.parametrize("levels", [101, 400, 900, 100_000])
def test_deep_nesting_is_refused(anon, admin, levels):
    for client, path in ((anon, "/signin"), (admin, "/admin/servers/spec")):
        response = client.post(path, data=_nested(levels), content_type="application/json")
        assert response.status_code == 400, (path, levels)
        assert response.json == {
            "message": "The request body is nested too deeply (at most 100 levels).",
            "code": 400,
        }


def test_nesting_up_to_the_limit_is_read(anon):
    response = anon.post("/signin", data=_nested(100), content_type="application/json")
    assert response.status_code == 401  # read, and the password is wrong


def test_two_factor_sign_in(anon, seed, totp):
    user_id = seed.user("alice")
    secret = seed.two_factor(user_id)
    response = anon.sign_in("alice", USER_PASSWORD)
    assert response.status_code == 400
    assert response.json == {
        "message": "Must supply a two-factor authentication code.",
        "code": 400,
        "need_two_factor": True,
    }
    assert anon.sign_in("alice", USER_PASSWORD, "").json["need_two_factor"] is True
    assert anon.get("/is_signed_in").status_code == 401

    response = anon.sign_in(
        "alice", USER_PASSWORD, "000000" if totp(secret) != "000000" else "111111"
    )
    assert response.status_code == 401
    assert response.json["message"] == "Code not valid."

    response = anon.sign_in("alice", USER_PASSWORD, totp(secret))
    assert response.status_code == 200
    assert anon.get("/is_signed_in").status_code == 200


def test_wrong_password_with_right_code_is_refused(anon, seed, totp):
    secret = seed.two_factor(seed.user("alice"))
    response = anon.sign_in("alice", "wrong-password", totp(secret))
    assert response.status_code == 401
    assert response.json["message"] == "Incorrect username or password."


def test_a_code_is_accepted_once(api, seed, totp):
    secret = seed.two_factor(seed.user("alice"))
    code = totp(secret)
    assert api().sign_in("alice", USER_PASSWORD, code).status_code == 200
    replay = api().sign_in("alice", USER_PASSWORD, code)
    assert replay.status_code == 401
    assert replay.json["message"] == "Code not valid."


def test_an_earlier_code_of_the_window_is_refused_after_a_later_one(api, seed):
    import pyotp

    secret = seed.two_factor(seed.user("alice"))
    totp = pyotp.TOTP(secret)
    now = dt.datetime.now(dt.UTC)
    earlier, current = totp.at(now - dt.timedelta(seconds=30)), totp.at(now)
    if earlier == current:
        pytest.skip("two steps with the same code")
    assert api().sign_in("alice", USER_PASSWORD, current).status_code == 200
    assert api().sign_in("alice", USER_PASSWORD, earlier).status_code == 401


def test_backup_codes_are_single_use(api, seed, state):
    user_id = seed.user("alice")
    seed.two_factor(user_id, backup_codes=("AbCdEfGh12", "ZyXwVuTs98"))
    assert api().sign_in("alice", USER_PASSWORD, "AbCdEfGh12").status_code == 200
    assert len(seed.rows(TwoFactorBackup, auth_id=user_id)) == 1
    again = api().sign_in("alice", USER_PASSWORD, "AbCdEfGh12")
    assert again.status_code == 401
    assert again.json["message"] == "Code not valid."
    assert api().sign_in("alice", USER_PASSWORD, " ZyXwVuTs98 ").status_code == 200
    assert seed.rows(TwoFactorBackup, auth_id=user_id) == []


def test_backup_codes_are_stored_hashed(seed):
    user_id = seed.user("alice")
    seed.two_factor(user_id, backup_codes=("AbCdEfGh12",))
    (row,) = seed.rows(TwoFactorBackup, auth_id=user_id)
    assert "AbCdEfGh12" not in row.code_hash and row.code_hash.startswith("$argon2")


def test_required_two_factor_is_reported_at_sign_in(anon, seed):
    seed.user("alice", require_two_factor=True)
    response = anon.sign_in("alice", USER_PASSWORD)
    assert response.status_code == 200
    assert response.json["require_two_factor_setup"] is True


# -- throttle ---------------------------------------------------------------------------------------------


def _fail(client, username="alice", times=5):
    for _ in range(times):
        assert client.sign_in(username, "wrong-password").status_code == 401


def test_throttle_per_username(api, seed, monkeypatch):
    seed.user("alice")
    _fail(api())
    locked = api().sign_in("alice", USER_PASSWORD)  # the right password does not help
    assert locked.status_code == 429
    assert locked.json["code"] == 429
    assert 1 <= locked.json["retry_after"] <= 900
    assert locked.headers["Retry-After"] == str(locked.json["retry_after"])
    assert "Too many failed sign-in attempts" in locked.json["message"]
    # from another address too: the username is locked
    assert api("10.0.0.9").sign_in("alice", USER_PASSWORD).status_code == 429

    later = utcnow() + dt.timedelta(seconds=901)
    monkeypatch.setattr(ratelimit, "utcnow", lambda: later)
    assert api().sign_in("alice", USER_PASSWORD).status_code == 200
    assert seed.rows(RateCounter, bucket="sign-in-user", subject="alice") == []


def test_throttle_per_address(api, seed):
    seed.user("alice")
    client = api("10.0.0.7")
    for name in ("u1", "u2", "u3", "u4", "u5"):
        assert client.sign_in(name, "wrong-password").status_code == 401
    assert client.sign_in("alice", USER_PASSWORD).status_code == 429
    assert api("10.0.0.8").sign_in("alice", USER_PASSWORD).status_code == 200


@pytest.mark.parametrize("code", ["١٢٣٤٥٦", "12 34 5x", 123, True, ["123456"], "x" * 1000])
def test_odd_codes_are_just_wrong(anon, seed, code):
    seed.two_factor(seed.user("alice"), backup_codes=("AbCdEfGh12",))
    response = anon.post(
        "/signin", {"username": "alice", "password": USER_PASSWORD, "two_factor_code": code}
    )
    assert response.status_code == 401
    assert response.json["message"] == "Code not valid."


def test_wrong_codes_count_as_failures(api, seed):
    seed.two_factor(seed.user("alice"))
    client = api()
    for _ in range(5):
        assert client.sign_in("alice", USER_PASSWORD, "12345x").status_code == 401
    assert client.sign_in("alice", USER_PASSWORD, "123456").status_code == 429


def test_a_success_clears_the_username_failures(api, seed):
    seed.user("alice")
    _fail(api(), times=4)
    assert api().sign_in("alice", USER_PASSWORD).status_code == 200
    _fail(api(), times=4)
    assert api().sign_in("alice", USER_PASSWORD).status_code == 200


def test_a_missing_two_factor_code_is_no_failure(api, seed, totp):
    secret = seed.two_factor(seed.user("alice"))
    for _ in range(6):
        assert api().sign_in("alice", USER_PASSWORD).json["need_two_factor"] is True
    assert api().sign_in("alice", USER_PASSWORD, totp(secret)).status_code == 200


def test_old_failures_are_pruned(api, seed, monkeypatch):
    _fail(api(), "bob", times=3)
    later = utcnow() + dt.timedelta(seconds=901)
    monkeypatch.setattr(ratelimit, "utcnow", lambda: later)
    _fail(api(), "carol", times=1)
    assert seed.rows(RateCounter, bucket="sign-in-user", subject="bob") == []
    (carol,) = seed.rows(RateCounter, bucket="sign-in-user", subject="carol")
    assert carol.hits == 1


def test_retry_after_counts_down_to_the_end_of_the_window(seed, state):
    start = utcnow()
    with state.database.sessions() as session:
        for minutes in (0, 1, 2, 3, 4):
            throttle.begin(
                session, state.settings, "alice", "1.2.3.4", start + dt.timedelta(minutes=minutes)
            )
        at = start + dt.timedelta(minutes=5)
        assert throttle.seconds_locked(session, state.settings, "alice", "5.6.7.8", at) == 600
        assert throttle.seconds_locked(session, state.settings, "bob", "1.2.3.4", at) == 600
        assert throttle.seconds_locked(session, state.settings, "bob", "5.6.7.8", at) == 0
        with pytest.raises(ApiError) as refused:
            throttle.begin(session, state.settings, "alice", "5.6.7.8", at)
        assert refused.value.payload["retry_after"] == 600
        later = start + dt.timedelta(minutes=15, seconds=1)
        assert throttle.seconds_locked(session, state.settings, "alice", "5.6.7.8", later) == 0


@pytest.mark.parametrize("database_uri", ["sqlite", "postgresql"], indirect=True)
def test_concurrent_guesses_get_exactly_the_allowed_tries(api, seed, monkeypatch):
    """40 wrong passwords at once (each check slowed as a real argon2 check is): 5 are checked, 35 refused."""
    seed.user("alice")
    check = login.verify_secret
    monkeypatch.setattr(login, "verify_secret", lambda *a: time.sleep(0.05) or check(*a))
    clients = [api() for _ in range(40)]
    for client in clients:
        client.csrf_token()
    start, statuses = threading.Barrier(len(clients)), []

    def guess(client):
        start.wait()
        statuses.append(client.sign_in("alice", "wrong-password").status_code)

    threads = [threading.Thread(target=guess, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [401] * 5 + [429] * 35


# -- sessions ---------------------------------------------------------------------------------------------


_REAL_TIMESTAMP = TimestampSigner.get_timestamp


def _session_clock_ahead(monkeypatch: pytest.MonkeyPatch, seconds: int) -> None:
    """Cookie signatures (Flask sessions) as if made and checked `seconds` from now."""
    monkeypatch.setattr(
        TimestampSigner, "get_timestamp", lambda self: _REAL_TIMESTAMP(self) + seconds
    )


def test_session_ends_after_inactivity(anon, seed, monkeypatch):
    seed.user("alice")
    anon.sign_in("alice", USER_PASSWORD)
    _session_clock_ahead(monkeypatch, 19 * 60)
    assert anon.get("/is_signed_in").status_code == 200  # activity renews the session
    _session_clock_ahead(monkeypatch, 38 * 60)
    assert anon.get("/is_signed_in").status_code == 200
    _session_clock_ahead(monkeypatch, 59 * 60)  # 21 minutes without a request
    assert anon.get("/is_signed_in").status_code == 401


def test_password_change_ends_other_sessions(api, seed):
    seed.user("alice")
    first, second = api(), api()
    first.sign_in("alice", USER_PASSWORD)
    second.sign_in("alice", USER_PASSWORD)
    new = "Quartz-Pelican-Sunrise-88"
    response = first.patch("/user/password", {"password": USER_PASSWORD, "newPassword": new})
    assert response.status_code == 200
    assert first.get("/is_signed_in").status_code == 200
    assert second.get("/is_signed_in").status_code == 401
    assert api().sign_in("alice", USER_PASSWORD).status_code == 401
    assert api().sign_in("alice", new).status_code == 200


def test_admin_password_reset_ends_the_user_sessions(api, admin, seed):
    user_id = seed.user("alice")
    client = api()
    client.sign_in("alice", USER_PASSWORD)
    response = admin.patch(f"/admin/users/{user_id}", {"password": "Tundra-Mosaic-Falcon-63"})
    assert response.status_code == 200
    assert client.get("/is_signed_in").status_code == 401
    assert admin.get("/is_signed_in").status_code == 200


def _copy(client, api):
    """Another client holding a copy of `client`'s session cookie (as an attacker who stole it)."""
    thief = api("10.0.0.66")
    thief.client.set_cookie("session", client.client.get_cookie("session").value)
    return thief


def test_a_copied_cookie_is_refused_after_sign_out(api, seed):
    seed.user("alice")
    client = api()
    client.sign_in("alice", USER_PASSWORD)
    thief = _copy(client, api)
    assert thief.get("/is_signed_in").status_code == 200
    assert client.post("/signout").json == {"logged_in": False}
    assert thief.get("/is_signed_in").status_code == 401
    assert thief.get("/tokens/servers").status_code == 401
    assert seed.rows(LoginSession) == []


def test_sign_in_starts_a_new_session(api, seed):
    """No fixation: a cookie from before sign-in never becomes signed in; each sign-in has its own session."""
    seed.user("alice")
    first = api()
    first.csrf_token()
    planted = _copy(first, api)  # the cookie an attacker handed over, or copied, before sign-in
    first.sign_in("alice", USER_PASSWORD)
    assert planted.get("/is_signed_in").status_code == 401
    second = api()
    second.sign_in("alice", USER_PASSWORD)
    assert first.client.get_cookie("session").value != second.client.get_cookie("session").value
    second.post("/signout")
    assert first.get("/is_signed_in").status_code == 200  # signing out ends that session only


def test_deleting_a_user_ends_their_sessions(api, admin, seed):
    user_id = seed.user("alice")
    client = api()
    client.sign_in("alice", USER_PASSWORD)
    assert admin.delete(f"/admin/users/{user_id}").status_code == 200
    assert client.get("/is_signed_in").status_code == 401
    assert seed.rows(LoginSession, user_id=user_id) == []


def test_idle_sessions_end_on_the_server_too(anon, api, seed, monkeypatch):
    """A session record not seen for longer than the idle time ends (whatever the cookie's signature says), and
    is pruned at the next sign-in."""
    seed.user("alice")
    anon.sign_in("alice", USER_PASSWORD)
    start = utcnow()
    for minutes, status in ((15, 200), (30, 200), (52, 401)):  # each request renews the record
        later = start + dt.timedelta(minutes=minutes)
        monkeypatch.setattr(login_sessions, "utcnow", lambda later=later: later)
        assert anon.get("/is_signed_in").status_code == status, minutes
    api().sign_in(ADMIN_USERNAME, ADMIN_PASSWORD)
    assert [row.user_id for row in seed.rows(LoginSession)] == [seed.user_id(ADMIN_USERNAME)]


def test_sign_in_changes_the_csrf_token(anon, seed):
    seed.user("alice")
    before = anon.csrf_token()
    anon.sign_in("alice", USER_PASSWORD)
    assert anon.csrf_token() != before


# -- CSRF -------------------------------------------------------------------------------------------------


def test_state_changing_requests_need_the_csrf_header(anon, seed):
    seed.user("alice")
    anon.get("/version")
    response = anon.post("/signin", {"username": "alice", "password": USER_PASSWORD}, csrf=False)
    assert response.status_code == 401
    assert "CSRF" in response.json["message"]
    wrong = anon.post(
        "/signin",
        {"username": "alice", "password": USER_PASSWORD},
        csrf=False,
        headers={"X-CSRF-Token": "forged"},
    )
    assert wrong.status_code == 401
    odd = anon.post(
        "/signin",
        {"username": "alice", "password": USER_PASSWORD},
        csrf=False,
        headers={"X-CSRF-Token": "é"},
    )
    assert odd.status_code == 401
    assert anon.sign_in("alice", USER_PASSWORD).status_code == 200


def test_every_state_changing_route_checks_csrf(app, admin):
    checked = 0
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) - {"GET", "HEAD", "OPTIONS"}):
            path = rule.rule.replace("<int:", "<").replace("<", "").replace(">", "")
            for name in rule.arguments:
                path = path.replace(name, "1")
            response = admin.send(method, path, {}, csrf=False)
            assert response.status_code == 401, (method, rule.rule)
            assert "CSRF" in response.json["message"], (method, rule.rule)
            checked += 1
    assert checked >= 20
