"""Pieces that need no services: settings, scope arithmetic, token decoding, messages."""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from flowapi.auth import ExpiredToken, InvalidToken, MissingToken, User, bearer_token, verify_token
from flowapi.logs import JSONFormatter
from flowapi.permissions import all_scopes, is_allowed, query_kinds_in, query_scopes
from flowapi.settings import Settings, SettingsError
from flowkit_jwt_generator import generate_token
from flowkit_protocol import MalformedReply, QueryState, Reply, ReplyStatus


@pytest.fixture(scope="module")
def keys():
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, pem.decode()


def test_settings_from_env(keys, tmp_path):
    env = {
        "PUBLIC_JWT_SIGNING_KEY": base64.b64encode(keys[1].encode()).decode(),
        "FLOWAPI_IDENTIFIER": "api",
        "FLOWAPI_FLOWDB_PASSWORD": "pw",
        "FLOWMACHINE_PORT": "6000",
    }
    s = Settings.from_env(env, secrets_dir=tmp_path)
    assert (s.port, s.flowmachine_port, s.flowdb_user, s.flowapi_identifier) == (
        9090,
        6000,
        "flowapi",
        "api",
    )
    assert s.flowmachine_endpoint == "tcp://localhost:6000"
    (tmp_path / "FLOWAPI_IDENTIFIER").write_text("from-secret\n")
    assert Settings.from_env(env, secrets_dir=tmp_path).flowapi_identifier == "from-secret"
    with pytest.raises(SettingsError, match="Undefined configuration option: 'FLOWAPI_IDENTIFIER'"):
        Settings.from_env({**env, "FLOWAPI_IDENTIFIER": ""}, secrets_dir=None)
    with pytest.raises(SettingsError, match="FLOWAPI_PORT"):
        Settings.from_env({**env, "FLOWAPI_PORT": "http"}, secrets_dir=None)
    ec_pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(SettingsError, match="RSA"):
        Settings.from_env({**env, "PUBLIC_JWT_SIGNING_KEY": ec_pem.decode()}, secrets_dir=None)


def test_query_kinds_and_scopes():
    spec = {
        "query_kind": "flows",
        "from_location": {"query_kind": "daily_location", "aggregation_unit": "admin1"},
        "to_location": {
            "query_kind": "modal_location",
            "locations": [{"query_kind": "daily_location"}, {"query_kind": "daily_location"}],
        },
    }
    assert set(query_kinds_in(spec)) == {"flows", "daily_location", "modal_location"}
    assert query_scopes(spec, "admin1") == {
        "admin1:flows:flows",
        "admin1:flows:daily_location",
        "admin1:flows:modal_location",
    }
    assert query_scopes({"query_kind": "x"}, None) == {"nonspatial:x:x"}


def test_one_role_must_hold_everything():
    needed = {"a:b:b", "a:b:c"}
    user = User("u", {"one": frozenset({"run", "a:b:b"}), "two": frozenset({"a:b:c", "run"})})
    assert not is_allowed(user, ["run"], needed)
    user = User("u", {"one": frozenset({"run", "a:b:b", "a:b:c"})})
    assert is_allowed(user, ["run"], needed)
    assert is_allowed(user, ["get_result", "run"], needed)
    assert not is_allowed(user, ["get_result"], needed)
    assert not is_allowed(User("u", {}), [], ())


def test_all_scopes_from_schemas():
    schemas = {
        "FlowmachineQuerySchema": {
            "oneOf": [{"$ref": "#/components/schemas/Agg"}, {"$ref": "#/components/schemas/Hist"}],
            "discriminator": {"propertyName": "query_kind"},
        },
        "Agg": {
            "properties": {
                "query_kind": {"enum": ["agg"]},
                "locations": {"$ref": "#/components/schemas/Loc"},
            }
        },
        "Loc": {
            "properties": {
                "query_kind": {"enum": ["loc"]},
                "aggregation_unit": {"enum": ["admin1", "admin2"]},
                "again": {"$ref": "#/components/schemas/Loc"},  # cycles end
            }
        },
        "Hist": {
            "properties": {
                "query_kind": {"enum": ["hist"]},
                "aggregation_unit": {"enum": ["admin3"]},
            }
        },
    }
    scopes = all_scopes(schemas)
    assert {
        "run",
        "get_result",
        "admin1:agg:agg",
        "admin2:agg:loc",
        "nonspatial:agg:loc",
        "admin3:hist:hist",
    } <= set(scopes)
    assert "nonspatial:hist:hist" not in scopes


def _token(private, **kwargs):
    args = {
        "flowapi_identifier": "api",
        "username": "me",
        "private_key": private,
        "lifetime": dt.timedelta(minutes=1),
        "roles": {"r": ["run"]},
    }
    return generate_token(**{**args, **kwargs})


def test_verify_token(keys):
    private, pem = keys
    public = serialization.load_pem_public_key(pem.encode())
    user = verify_token(_token(private), key=public, audience="api")
    assert user == User("me", {"r": frozenset({"run"})})
    with pytest.raises(ExpiredToken):
        verify_token(_token(private, lifetime=dt.timedelta(seconds=-5)), key=public, audience="api")
    with pytest.raises(InvalidToken):
        verify_token(_token(private), key=public, audience="other")
    with pytest.raises(InvalidToken):
        verify_token(_token(private, compress=False), key=public, audience="api")
    with pytest.raises(MissingToken):
        bearer_token(None)
    with pytest.raises(MissingToken):
        bearer_token("Token abc")
    assert bearer_token("Bearer abc") == "abc"


def test_reply_parsing():
    reply = Reply.from_bytes(
        b'{"status": "error", "msg": "no", "payload": {"query_state": "awol", "progress": {}}}'
    )
    assert reply.status is ReplyStatus.ERROR and not reply.ok
    assert reply.query_state is QueryState.AWOL
    assert reply.progress.as_dict() == {"eligible": 0, "queued": 0, "running": 0}
    for raw in (
        b"nope",
        b"[]",
        b'{"status": "maybe"}',
        b'{"status": "success", "payload": 1}',
        b"[" * 100_000 + b"]" * 100_000,  # deeper than the parser's recursion: still just malformed
    ):
        with pytest.raises(MalformedReply):
            Reply.from_bytes(raw)


@pytest.mark.parametrize(
    "status,payload,seconds",
    [
        ("error", {"unavailable": "redis", "retry_after": 7}, 7),
        ("error", {"unavailable": "flowdb"}, 5),
        ("error", {"unavailable": "redis", "retry_after": "soon"}, 5),
        ("error", {"unavailable": "redis", "retry_after": 10**9}, 3600),
        ("error", {"unavailable": "redis", "retry_after": -3}, 1),
        ("error", {"query_state": "awol"}, None),
        ("success", {"unavailable": "redis"}, None),
    ],
)
def test_retry_after_of_unavailable_replies(status, payload, seconds):
    assert Reply(ReplyStatus(status), "", payload).retry_after == seconds


def test_access_log_lines_are_json():
    record = logging.LogRecord("flowapi.access", logging.INFO, __file__, 1, "request", None, None)
    record.user, record.query_id, record.outcome, record.status = "ann", "abc", "accepted", 202
    line = json.loads(JSONFormatter().format(record))
    assert line["user"] == "ann" and line["query_id"] == "abc"
    assert line["outcome"] == "accepted" and line["status"] == 202
    assert line["logger"] == "flowapi.access" and line["event"] == "request"


def test_verified_tokens_check_the_lifetime_at_every_use(keys):
    """A token is verified once, but a remembered token still expires, and a bad one is never remembered."""
    from flowapi.auth import VerifiedTokens

    private, pem = keys
    public = serialization.load_pem_public_key(pem.encode())
    tokens = VerifiedTokens(key=public, audience="api", size=2)
    token = _token(private, lifetime=dt.timedelta(minutes=1))
    start = time.time()
    assert tokens.user(token) == User("me", {"r": frozenset({"run"})})
    assert tokens.user(token, now=start + 30).name == "me"  # from memory
    with pytest.raises(ExpiredToken):
        tokens.user(token, now=start + 120)
    with pytest.raises(InvalidToken, match="not yet valid"):
        tokens.user(token, now=start - 3600)  # before its iat / nbf
    for bad in (
        _token(private, flowapi_identifier="other"),
        _token(private, compress=False),
        token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"),  # tampered signature
    ):
        for _ in range(2):  # refused again, never remembered
            with pytest.raises(InvalidToken):
                tokens.user(bad)
    with pytest.raises(ExpiredToken):
        tokens.user(_token(private, lifetime=dt.timedelta(seconds=-5)))
    for i in range(3):  # bounded
        tokens.user(_token(private, username=f"u{i}"))
    assert len(tokens._items) == 2


def test_redoc_setting_must_name_a_file(tmp_path, public_pem):
    env = {
        "PUBLIC_JWT_SIGNING_KEY": public_pem.decode(),
        "FLOWAPI_IDENTIFIER": "x",
        "FLOWAPI_FLOWDB_PASSWORD": "p",
        "FLOWAPI_REDOC_SCRIPT": str(tmp_path / "missing.js"),
    }
    with pytest.raises(SettingsError, match="FLOWAPI_REDOC_SCRIPT"):
        Settings.from_env(env, secrets_dir=None)
    (tmp_path / "missing.js").write_text("x")
    assert Settings.from_env(env, secrets_dir=None).redoc_script == tmp_path / "missing.js"
