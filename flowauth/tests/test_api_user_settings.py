"""The caller's own settings: password change, two-factor setup and backup codes, password strength."""

from __future__ import annotations

import pytest
from itsdangerous import TimestampSigner

from conftest import USER_PASSWORD
from flowauth import two_factor
from flowauth.models import TwoFactorAuth, TwoFactorBackup

NEW_PASSWORD = "Quartz-Pelican-Sunrise-88"


@pytest.fixture
def alice(api, seed):
    seed.user("alice")
    client = api()
    client.sign_in("alice", USER_PASSWORD)
    return client


# -- password ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message", "field"),
    [
        ({"newPassword": NEW_PASSWORD}, "Missing old password.", "password"),
        ({"password": USER_PASSWORD}, "Missing new password.", "newPassword"),
        ({"password": "wrong", "newPassword": NEW_PASSWORD}, "Password incorrect.", "password"),
        ({"password": USER_PASSWORD, "newPassword": "password123"}, "Password not complex enough.", "newPassword"),
        ({"password": USER_PASSWORD, "newPassword": ""}, "Password not complex enough.", "newPassword"),
        ({"password": USER_PASSWORD, "newPassword": 5}, "newPassword must be a string.", "newPassword"),
    ],
)  # fmt: skip
def test_password_change_validation(alice, api, body, message, field):
    response = alice.patch("/user/password", body)
    assert response.status_code == 400
    assert response.json == {"message": message, "code": 400, "bad_field": field}
    assert api().sign_in("alice", USER_PASSWORD).status_code == 200


def test_change_password(alice, api):
    response = alice.patch(
        "/user/password", {"password": USER_PASSWORD, "newPassword": NEW_PASSWORD}
    )
    assert response.status_code == 200
    assert response.json == {}
    assert api().sign_in("alice", NEW_PASSWORD).status_code == 200


def test_guessing_the_old_password_is_throttled(alice):
    for _ in range(5):
        alice.patch("/user/password", {"password": "guess", "newPassword": NEW_PASSWORD})
    response = alice.patch(
        "/user/password", {"password": USER_PASSWORD, "newPassword": NEW_PASSWORD}
    )
    assert response.status_code == 429


def test_password_strength(alice):
    weak = alice.post("/user/password_strength", {"password": "password"}).json
    assert weak["score"] == 0 and weak["warning"]
    strong = alice.post("/user/password_strength", {"password": NEW_PASSWORD}).json
    assert strong["score"] == 4
    assert alice.post("/user/password_strength", {}).json["score"] == 0
    assert alice.post("/user/password_strength", {"password": 5}).status_code == 400


# -- two-factor ---------------------------------------------------------------------------------------------


def _enable(client, totp):
    setup = client.post("/user/enable_two_factor").json
    code = totp(setup["secret"].split(".")[0])
    response = client.post(
        "/user/confirm_two_factor",
        {"two_factor_code": code, "secret": setup["secret"],
         "backup_codes_signature": setup["backup_codes_signature"]},
    )  # fmt: skip
    return setup, code, response


def test_enable_two_factor(alice, api, seed, state, totp):
    assert alice.get("/user/two_factor_active").json == {"two_factor_enabled": False}
    setup, code, response = _enable(alice, totp)
    assert set(setup) == {
        "provisioning_url", "secret", "issuer", "backup_codes", "backup_codes_signature", "qr_code_svg",
    }  # fmt: skip
    assert setup["issuer"] == "FlowAuth"
    assert setup["provisioning_url"].startswith("otpauth://totp/FlowAuth:alice?secret=")
    assert setup["qr_code_svg"].startswith("<svg") and "</svg>" in setup["qr_code_svg"]
    assert len(setup["backup_codes"]) == 16
    assert all(len(c) == 10 and c.isalnum() for c in setup["backup_codes"])
    assert response.status_code == 200
    assert response.json == {"two_factor_enabled": True}
    assert alice.get("/user/two_factor_active").json == {"two_factor_enabled": True}

    # stored encrypted and hashed
    raw_secret = setup["secret"].split(".")[0]
    (auth,) = seed.rows(TwoFactorAuth)
    assert raw_secret not in auth.secret_encrypted
    assert state.box.open(auth.secret_encrypted) == raw_secret
    hashes = [row.code_hash for row in seed.rows(TwoFactorBackup)]
    assert len(hashes) == 16 and not set(hashes) & set(setup["backup_codes"])

    # the code used to confirm cannot sign in; a backup code can
    assert api().sign_in("alice", USER_PASSWORD, code).status_code == 401
    assert api().sign_in("alice", USER_PASSWORD, setup["backup_codes"][3]).status_code == 200


@pytest.mark.parametrize(
    ("drop", "message"),
    [
        ("two_factor_code", "Must supply a two-factor authentication code."),
        ("secret", "Must supply a two-factor authentication secret."),
        ("backup_codes_signature", "Must supply signed backup codes."),
    ],
)
def test_confirm_needs_every_field(alice, drop, message):
    setup = alice.post("/user/enable_two_factor").json
    body = {"two_factor_code": "123456", "secret": setup["secret"],
            "backup_codes_signature": setup["backup_codes_signature"]}  # fmt: skip
    del body[drop]
    response = alice.post("/user/confirm_two_factor", body)
    assert response.status_code == 400
    assert response.json == {"message": message, "code": 400, "bad_field": drop}


def test_confirm_refuses_tampering_and_a_wrong_code(alice, totp):
    setup = alice.post("/user/enable_two_factor").json
    raw = setup["secret"].split(".")[0]
    good = {"two_factor_code": totp(raw), "secret": setup["secret"],
            "backup_codes_signature": setup["backup_codes_signature"]}  # fmt: skip

    forged = {**good, "secret": "JBSWY3DPEHPK3PXP" + setup["secret"][len(raw) :]}
    response = alice.post("/user/confirm_two_factor", forged)
    assert response.status_code == 400
    assert response.json["message"] == "Two-factor setup attempt has been tampered with."

    response = alice.post("/user/confirm_two_factor", {**good, "backup_codes_signature": "x.y.z"})
    assert response.json["message"] == "Backup codes have been tampered with."

    wrong = "000000" if good["two_factor_code"] != "000000" else "111111"
    response = alice.post("/user/confirm_two_factor", {**good, "two_factor_code": wrong})
    assert response.status_code == 400
    assert response.json == {
        "message": "Code not valid.",
        "code": 400,
        "bad_field": "two_factor_code",
    }
    assert alice.get("/user/two_factor_active").json == {"two_factor_enabled": False}


def test_setup_signatures_are_for_setup_only_and_last_a_day(state, monkeypatch):
    key = state.settings.secret_key
    setup = two_factor.start_setup(key, "FlowAuth", "alice")
    raw = setup.secret.split(".")[0]
    assert two_factor.read_signed_secret(key, setup.secret) == raw
    assert two_factor.read_backup_codes(key, setup.backup_codes_signature) == setup.backup_codes
    # a value signed with the same key for another purpose does not pass
    other = TimestampSigner(key).sign(raw).decode()
    with pytest.raises(two_factor.SetupError, match="tampered"):
        two_factor.read_signed_secret(key, other)

    real = TimestampSigner.get_timestamp
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: real(self) + 23 * 3600)
    assert two_factor.read_signed_secret(key, setup.secret) == raw
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: real(self) + 25 * 3600)
    with pytest.raises(two_factor.SetupError, match="Two-factor setup attempt has expired."):
        two_factor.read_signed_secret(key, setup.secret)
    with pytest.raises(two_factor.SetupError, match="expired"):
        two_factor.read_backup_codes(key, setup.backup_codes_signature)


def test_disable_two_factor(alice, api, totp):
    assert alice.post("/user/disable_two_factor").json == {
        "two_factor_enabled": False
    }  # none: fine
    _enable(alice, totp)
    response = alice.post("/user/disable_two_factor")
    assert response.json == {"two_factor_enabled": False}
    assert alice.get("/is_signed_in").status_code == 200
    assert api().sign_in("alice", USER_PASSWORD).status_code == 200  # no code asked


def test_required_two_factor_cannot_be_disabled(api, seed, totp):
    seed.user("bob", require_two_factor=True)
    client = api()
    client.sign_in("bob", USER_PASSWORD)
    _enable(client, totp)
    response = client.post("/user/disable_two_factor")
    assert response.status_code == 400
    assert "required" in response.json["message"]
    assert client.get("/user/two_factor_active").json == {"two_factor_enabled": True}
    assert client.get("/user/two_factor_required").json == {"require_two_factor": True}


def test_regenerate_backup_codes(alice, api, totp):
    setup, _, _ = _enable(alice, totp)
    fresh = alice.get("/user/generate_two_factor_backups").json
    assert len(fresh["backup_codes"]) == 16 and fresh["backup_codes"] != setup["backup_codes"]
    response = alice.post(
        "/user/generate_two_factor_backups",
        {"backup_codes_signature": fresh["backup_codes_signature"]},
    )
    assert response.json == {"backups_reset": True}
    assert api().sign_in("alice", USER_PASSWORD, setup["backup_codes"][0]).status_code == 401
    assert api().sign_in("alice", USER_PASSWORD, fresh["backup_codes"][0]).status_code == 200


def test_regenerate_backup_codes_errors(alice, totp):
    fresh = alice.get("/user/generate_two_factor_backups").json
    body = {"backup_codes_signature": fresh["backup_codes_signature"]}
    response = alice.post("/user/generate_two_factor_backups", body)
    assert response.status_code == 400
    assert response.json["message"] == "Two-factor authentication is not enabled for this account."
    _enable(alice, totp)
    response = alice.post("/user/generate_two_factor_backups", {})
    assert response.json["message"] == "Must supply signed backup codes."
    response = alice.post("/user/generate_two_factor_backups", {"backup_codes_signature": "forged"})
    assert response.json["message"] == "Backup codes have been tampered with."
