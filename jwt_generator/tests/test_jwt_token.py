"""generate_token's claims and signature, the user_claims encoding, key loading and the spec lookups."""

from __future__ import annotations

import base64
import datetime
import gzip
import json
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt_support import AUDIENCE, SCOPES, KeyPair, SpecServer

import flowkit_jwt_generator
from flowkit_jwt_generator import (
    generate_keypair,
    generate_token,
    get_all_claims_from_flowapi,
    load_private_key,
    load_public_key,
)
from flowkit_jwt_generator.jwt import (
    compress_claims,
    decompress_claims,
    get_audience_from_flowapi,
    squashed_scopes,
)

ROLES = {
    "viewer": ["get_result", "admin3:spatial_aggregate:daily_location"],
    "runner": ["run", "get_result", "admin3:spatial_aggregate:spatial_aggregate"],
}


def _token(keypair: KeyPair, **overrides: object) -> str:
    arguments: dict[str, object] = dict(
        flowapi_identifier=AUDIENCE,
        username="TEST_USER",
        private_key=load_private_key(keypair.private_b64),
        lifetime=datetime.timedelta(days=1),
        roles=ROLES,
    )
    arguments.update(overrides)
    return generate_token(**arguments)  # type: ignore[arg-type]


def test_public_api_is_what_1_34_exports() -> None:
    assert set(flowkit_jwt_generator.__all__) == {
        "__version__",
        "generate_keypair",
        "generate_token",
        "get_all_claims_from_flowapi",
        "load_private_key",
        "load_public_key",
    }
    for name in flowkit_jwt_generator.__all__:
        assert hasattr(flowkit_jwt_generator, name)


def test_token_verifies_with_the_public_key_and_carries_the_1_34_claims(keypair: KeyPair) -> None:
    before = int(time.time())
    token = _token(keypair, flowauth_identifier="TEST_FLOWAUTH")
    after = int(time.time())

    assert jwt.get_unverified_header(token) == {"alg": "RS256", "typ": "JWT"}
    claims = jwt.decode(
        token, load_public_key(keypair.public_b64), algorithms=["RS256"], audience=AUDIENCE
    )
    assert list(claims) == ["iat", "nbf", "jti", "user_claims", "sub", "exp", "aud", "iss"]
    assert before <= claims["iat"] <= after
    assert claims["nbf"] == claims["iat"]
    assert claims["exp"] - claims["iat"] == 86400
    assert uuid.UUID(claims["jti"]).version == 4
    assert claims["sub"] == "TEST_USER"
    assert claims["aud"] == AUDIENCE
    assert claims["iss"] == "TEST_FLOWAUTH"
    assert decompress_claims(claims["user_claims"]) == ROLES


def test_every_token_gets_its_own_jti(keypair: KeyPair) -> None:
    tokens = [_token(keypair) for _ in range(3)]
    jtis = {jwt.decode(t, options={"verify_signature": False})["jti"] for t in tokens}
    assert len(jtis) == 3


def test_audience_and_issuer_are_left_out_unless_given(keypair: KeyPair) -> None:
    token = _token(keypair, flowapi_identifier=None)
    claims = jwt.decode(token, keypair.public_pem, algorithms=["RS256"])
    assert list(claims) == ["iat", "nbf", "jti", "user_claims", "sub", "exp"]
    with pytest.raises(jwt.MissingRequiredClaimError):
        jwt.decode(token, keypair.public_pem, algorithms=["RS256"], audience=AUDIENCE)


def test_a_verifier_expecting_another_audience_refuses_the_token(keypair: KeyPair) -> None:
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(_token(keypair), keypair.public_pem, algorithms=["RS256"], audience="OTHER")


def test_a_token_signed_with_another_key_fails_verification(keypair: KeyPair) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = _token(keypair, private_key=other)
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, keypair.public_pem, algorithms=["RS256"], audience=AUDIENCE)


def test_expired_token_is_refused(keypair: KeyPair) -> None:
    token = _token(keypair, lifetime=datetime.timedelta(seconds=-10))
    with pytest.raises(jwt.ExpiredSignatureError):
        jwt.decode(token, keypair.public_pem, algorithms=["RS256"], audience=AUDIENCE)


def test_private_key_may_be_pem_text(keypair: KeyPair) -> None:
    token = _token(keypair, private_key=keypair.private_pem.decode())
    claims = jwt.decode(token, keypair.public_pem, algorithms=["RS256"], audience=AUDIENCE)
    assert claims["sub"] == "TEST_USER"


def test_uncompressed_roles_are_a_plain_mapping(keypair: KeyPair) -> None:
    token = _token(keypair, compress=False)
    claims = jwt.decode(token, keypair.public_pem, algorithms=["RS256"], audience=AUDIENCE)
    assert claims["user_claims"] == ROLES


def test_user_claims_are_base64_lines_of_gzipped_default_json() -> None:
    roles = {"universal_role": [f"admin3:spatial_aggregate:kind_{i}" for i in range(200)]}
    before = int(time.time())
    encoded = compress_claims(roles)

    lines = encoded.split("\n")
    assert lines[-1] == ""
    assert all(len(line) == 76 for line in lines[:-2]) and 0 < len(lines[-2]) <= 76
    raw = base64.b64decode(encoded)
    # gzip member header: magic, deflate, no flags, mtime, best-compression XFL, unknown OS
    assert raw[:4] == b"\x1f\x8b\x08\x00"
    assert before <= int.from_bytes(raw[4:8], "little") <= int(time.time())
    assert raw[8:10] == b"\x02\xff"
    assert gzip.decompress(raw) == json.dumps(roles).encode()
    assert decompress_claims(encoded) == roles


def test_generated_keypair_is_4096_bit_rsa_in_the_1_34_pem_formats() -> None:
    private_pem, public_pem = generate_keypair()
    assert private_pem.startswith(b"-----BEGIN RSA PRIVATE KEY-----\n")
    assert public_pem.startswith(b"-----BEGIN PUBLIC KEY-----\n")
    private_key = load_private_key(private_pem.decode())
    assert private_key.key_size == 4096
    assert private_key.public_key().public_numbers() == (
        load_public_key(public_pem.decode()).public_numbers()
    )


@pytest.mark.parametrize("layers", [0, 1, 2])
def test_keys_load_from_pem_or_base64_of_it(keypair: KeyPair, layers: int) -> None:
    private_text, public_text = keypair.private_pem, keypair.public_pem
    for _ in range(layers):
        private_text, public_text = base64.b64encode(private_text), base64.b64encode(public_text)
    private_key = load_private_key(private_text.decode())
    public_key = load_public_key(public_text.decode())
    assert isinstance(private_key, rsa.RSAPrivateKey)
    assert private_key.public_key().public_numbers() == public_key.public_numbers()


@pytest.mark.parametrize(
    "text", ["", "not a key", "bm90IGEga2V5", base64.b64encode(b"\xff\xfe").decode()]
)
def test_unloadable_keys_raise_value_error(text: str) -> None:
    with pytest.raises(ValueError, match=r"^Failed to load key\.$"):
        load_private_key(text)
    with pytest.raises(ValueError, match=r"^Failed to load key\.$"):
        load_public_key(text)


def test_a_public_key_is_not_a_private_key(keypair: KeyPair) -> None:
    with pytest.raises(ValueError, match="Failed to load key"):
        load_private_key(keypair.public_b64)
    with pytest.raises(ValueError, match="Failed to load key"):
        load_public_key(keypair.private_b64)


def test_scopes_and_audience_come_from_the_flowapi_spec(spec_server: SpecServer) -> None:
    assert get_all_claims_from_flowapi(spec_server.url) == SCOPES
    assert get_audience_from_flowapi(spec_server.url) == AUDIENCE
    assert get_all_claims_from_flowapi(spec_server.url + "/") == SCOPES
    # cached per URL: the spec is fetched once for each spelling of the address
    assert spec_server.paths_requested == ["/api/0/spec/openapi.json"] * 2


@pytest.mark.parametrize(
    ("scopes", "expected"),
    [
        ([], []),
        (["run"], ["run"]),
        (
            [
                "run&daily_location.aggregation_unit.admin3",
                "get_result&daily_location.aggregation_unit.admin3",
            ],
            ["get_result,run&daily_location.aggregation_unit.admin3"],
        ),
        (
            [
                "run&daily_location.aggregation_unit.admin3",
                "run&modal_location.aggregation_unit.admin3",
                "get_result&daily_location.aggregation_unit.admin2",
            ],
            [
                "get_result&daily_location.aggregation_unit.admin2",
                "run&daily_location.aggregation_unit.admin3,modal_location.aggregation_unit.admin3",
            ],
        ),
    ],
)
def test_squashed_scopes_merges_legacy_scopes(scopes: list[str], expected: list[str]) -> None:
    assert list(squashed_scopes(scopes)) == expected
