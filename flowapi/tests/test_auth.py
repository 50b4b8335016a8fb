"""Every way a token can fail, and the one-role-covers-all scope rule, through the app."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from flowapi_test_helpers import AUDIENCE, SPATIAL, SPATIAL_SCOPES, bearer

from flowkit_jwt_generator.jwt import compress_claims

pytestmark = pytest.mark.asyncio

DATES = "/api/0/available_dates"
DATES_ROLE = {"viewer": ["get_available_dates"]}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(**overrides):
    now = dt.datetime.now(dt.UTC)
    claims = {
        "iat": now,
        "nbf": now,
        "exp": now + dt.timedelta(minutes=5),
        "jti": str(uuid.uuid4()),
        "sub": "test",
        "aud": AUDIENCE,
        "user_claims": compress_claims(DATES_ROLE),
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


async def test_a_good_token_passes(client, make_token):
    response = await client.get(DATES, headers=bearer(make_token(DATES_ROLE)))
    assert response.status_code == 200
    assert "2016-03-01" in (await response.get_json())["available_dates"]["calls"]


async def test_missing_header(client):
    response = await client.get(DATES)
    assert response.status_code == 401
    assert await response.get_json() == {"msg": "Missing Authorization Header"}


@pytest.mark.parametrize("header", ["Basic dXNlcjpwdw==", "Bearer", "Bearer a b", "token"])
async def test_garbled_header(client, header):
    response = await client.get(DATES, headers={"Authorization": header})
    assert response.status_code == 401
    assert "msg" in await response.get_json()


async def test_expired(client, make_token):
    token = make_token(DATES_ROLE, lifetime=dt.timedelta(seconds=-30))
    response = await client.get(DATES, headers=bearer(token))
    assert response.status_code == 401
    assert await response.get_json() == {"msg": "Token has expired"}


def _bad_tokens(private_key, public_pem):
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    good = jwt.encode(_claims(), private_key, algorithm="RS256")
    head, payload, signature = good.split(".")
    tampered_payload = _b64(
        json.dumps(
            {**jwt.decode(good, options={"verify_signature": False}), "sub": "admin"}
        ).encode()
    )
    hs_header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    hs_payload = _b64(json.dumps(jwt.decode(good, options={"verify_signature": False})).encode())
    hs_signature = _b64(
        hmac.new(public_pem, f"{hs_header}.{hs_payload}".encode(), hashlib.sha256).digest()
    )
    none_header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return {
        "garbage": "not-a-jwt",
        "tampered": f"{head}.{tampered_payload}.{signature}",
        "alg_none": f"{none_header}.{hs_payload}.",
        "hs256_with_public_key": f"{hs_header}.{hs_payload}.{hs_signature}",
        "other_signer": jwt.encode(_claims(), other_key, algorithm="RS256"),
        "not_yet_valid": jwt.encode(
            _claims(nbf=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)),
            private_key,
            algorithm="RS256",
        ),
        "wrong_audience": jwt.encode(_claims(aud="another-server"), private_key, algorithm="RS256"),
        "no_audience": jwt.encode(_claims(aud=None), private_key, algorithm="RS256"),
        "no_sub": jwt.encode(_claims(sub=None), private_key, algorithm="RS256"),
        "no_exp": jwt.encode(_claims(exp=None), private_key, algorithm="RS256"),
        "uncompressed_claims": jwt.encode(
            _claims(user_claims=DATES_ROLE), private_key, algorithm="RS256"
        ),
        "claims_not_gzip": jwt.encode(
            _claims(user_claims=base64.b64encode(b"hello").decode()), private_key, algorithm="RS256"
        ),
    }


@pytest.mark.parametrize(
    "case",
    [
        "garbage",
        "tampered",
        "alg_none",
        "hs256_with_public_key",
        "other_signer",
        "not_yet_valid",
        "wrong_audience",
        "no_audience",
        "no_sub",
        "no_exp",
        "uncompressed_claims",
        "claims_not_gzip",
    ],
)
async def test_invalid_tokens_are_422(client, signing_keys, public_pem, case, caplog):
    token = _bad_tokens(signing_keys[0], public_pem)[case]
    response = await client.get(DATES, headers=bearer(token))
    assert response.status_code == 422, case
    body = await response.get_json()
    assert set(body) == {"msg"} and body["msg"]


async def test_no_scopes_is_403(client, make_token):
    response = await client.get(DATES, headers=bearer(make_token({"empty": []})))
    assert response.status_code == 403
    assert await response.get_json() == {
        "status": "error",
        "msg": "User claims verification failed",
    }


# scopes -------------------------------------------------------------------------------------------------------


async def run(client, token, spec=SPATIAL):
    return (await client.post("/api/0/run", json=spec, headers=bearer(token))).status_code


async def test_one_role_must_cover_every_scope(client, make_token):
    assert await run(client, make_token({"r": ["run", *SPATIAL_SCOPES]})) == 202
    split = {"a": ["run", SPATIAL_SCOPES[0]], "b": ["run", SPATIAL_SCOPES[1]]}
    assert await run(client, make_token(split)) == 403
    action_elsewhere = {"a": ["run"], "b": SPATIAL_SCOPES}
    assert await run(client, make_token(action_elsewhere)) == 403
    no_nested = {"r": ["run", SPATIAL_SCOPES[0]]}
    assert await run(client, make_token(no_nested)) == 403
    other_unit = {"r": ["run", *(s.replace("admin3", "admin2") for s in SPATIAL_SCOPES)]}
    assert await run(client, make_token(other_unit)) == 403
    reader = {"r": ["get_result", *SPATIAL_SCOPES]}
    assert await run(client, make_token(reader)) == 403


async def test_poll_and_get_scopes(client, make_token):
    runner = make_token({"r": ["run", *SPATIAL_SCOPES]})
    response = await client.post("/api/0/run", json=SPATIAL, headers=bearer(runner))
    query_id = (await response.get_json())["query_id"]
    reader = make_token({"r": ["get_result", *SPATIAL_SCOPES]})
    stranger = make_token(
        {"r": ["run", "get_result", "admin3:spatial_aggregate:spatial_aggregate"]}
    )
    for token in (runner, reader):  # run OR get_result may poll
        polled = await client.get(f"/api/0/poll/{query_id}", headers=bearer(token))
        assert polled.status_code in (202, 303)
    assert (
        await client.get(f"/api/0/poll/{query_id}", headers=bearer(stranger))
    ).status_code == 403
    # get needs get_result
    assert (await client.get(f"/api/0/get/{query_id}", headers=bearer(runner))).status_code == 403
    assert (await client.get(f"/api/0/get/{query_id}", headers=bearer(stranger))).status_code == 403


async def test_nonspatial_scopes(client, make_token):
    spec = {
        "query_kind": "histogram_aggregate",
        "metric": {
            "query_kind": "radius_of_gyration",
            "start_date": "2016-03-01",
            "end_date": "2016-03-02",
        },
        "bins": {"n_bins": 5},
    }
    scopes = [
        "nonspatial:histogram_aggregate:histogram_aggregate",
        "nonspatial:histogram_aggregate:radius_of_gyration",
    ]
    assert await run(client, make_token({"r": ["run", *scopes]}), spec) == 202
    assert await run(client, make_token({"r": ["run", scopes[0]]}), spec) == 403


async def test_universal_token_covers_published_kinds(client, universal_token):
    specs = [
        SPATIAL,
        {"query_kind": "geography", "aggregation_unit": "admin1"},
        {
            "query_kind": "histogram_aggregate",
            "metric": {
                "query_kind": "radius_of_gyration",
                "start_date": "2016-03-01",
                "end_date": "2016-03-02",
            },
            "bins": {"n_bins": 5},
        },
    ]
    for spec in specs:
        assert await run(client, universal_token, spec) == 202, spec


async def test_geography_scopes(client, make_token):
    path = "/api/0/geography/admin2"
    assert (
        await client.get(path, headers=bearer(make_token({"r": ["get_result"]})))
    ).status_code == 403
    split = make_token({"a": ["get_result"], "b": ["admin2:geography:geography"]})
    assert (await client.get(path, headers=bearer(split))).status_code == 403
    whole = make_token({"a": ["get_result", "admin2:geography:geography"]})
    assert (await client.get(path, headers=bearer(whole))).status_code == 200


async def test_auth_failures_are_logged(client, make_token, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="flowapi.access")
    await client.get(DATES)
    await client.get(
        DATES, headers=bearer(make_token(DATES_ROLE, lifetime=dt.timedelta(seconds=-5)))
    )
    await client.get(DATES, headers=bearer(make_token({"r": []})))
    outcomes = [getattr(r, "outcome", None) for r in caplog.records if r.name == "flowapi.access"]
    assert outcomes == ["UNAUTHORISED", "EXPIRED_TOKEN", "CLAIMS_VERIFICATION_FAILED"]
