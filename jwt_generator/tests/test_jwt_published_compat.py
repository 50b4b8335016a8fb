"""Our tokens against those of the published flowkit-jwt-generator 1.34.0.

The published package is installed from PyPI into a scratch virtualenv and driven through
subprocesses, so the comparison sees exactly what FlowKit's own tooling produces. Needs PyPI
(marked `network`; deselect with `-m "not network"` when offline).
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import cryptography
import jwt
import pytest
from jwt_support import AUDIENCE, SCOPES, KeyPair, SpecServer

from flowkit_jwt_generator import generate_token, load_private_key, load_public_key
from flowkit_jwt_generator.cli import print_token
from flowkit_jwt_generator.jwt import compress_claims, decompress_claims, squashed_scopes

pytestmark = [pytest.mark.network, pytest.mark.timeout(600)]

PUBLISHED = "flowkit-jwt-generator==1.34.0"
INSTALL_TIMEOUT_SECONDS = 300
RUN_TIMEOUT_SECONDS = 120

ROLES = {
    "viewer": ["get_result", "admin3:spatial_aggregate:daily_location"],
    "universal_role": [f"admin{i % 4}:spatial_aggregate:kind_{i}" for i in range(400)] + ["run"],
    "rôle spécial": ["get_available_dates"],
}
SQUASH_INPUTS = [
    [],
    ["run", "get_result"],
    ["run&a.b.c", "get_result&a.b.c", "run&d.e.f", "get_result&d.e.g", "x&y&z", "x&w&z", "a&&b"],
]

# Runs inside the published package's virtualenv: reads one JSON request on stdin, answers with
# one JSON document on stdout.
PUBLISHED_DRIVER = """
import datetime, json, sys
import jwt
from flowkit_jwt_generator import generate_keypair, generate_token, load_private_key, load_public_key
from flowkit_jwt_generator.jwt import compress_claims, decompress_claims, squashed_scopes

request = json.load(sys.stdin)
ours = jwt.decode(
    request["our_token"],
    load_public_key(request["public_key"]),
    algorithms=["RS256"],
    audience=request["audience"],
)
private_pem, public_pem = generate_keypair()
json.dump(
    {
        "token": generate_token(
            flowapi_identifier=request["audience"],
            flowauth_identifier=request["issuer"],
            username=request["username"],
            private_key=load_private_key(request["private_key"]),
            lifetime=datetime.timedelta(seconds=request["lifetime_seconds"]),
            roles=request["roles"],
        ),
        "compressed": compress_claims(request["roles"]),
        "our_roles": decompress_claims(ours["user_claims"]),
        "squashed": [list(squashed_scopes(scopes)) for scopes in request["squash_inputs"]],
        "keypair": [private_pem.decode(), public_pem.decode()],
    },
    sys.stdout,
)
"""


@pytest.fixture(scope="module")
def published_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv holding the published package, on our Python, pyjwt and cryptography."""
    uv = os.environ.get("UV") or shutil.which("uv")
    if uv is None:
        pytest.skip("uv is needed to build the scratch virtualenv")
    root = tmp_path_factory.mktemp("published-jwt-generator")
    venv = root / "venv"
    python = venv / "bin" / "python"
    environment = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    commands = [
        [uv, "venv", "--quiet", "--python", sys.executable, str(venv)],
        [uv, "pip", "install", "--quiet", "--python", str(python), PUBLISHED, "click", "requests"]
        + [f"pyjwt=={jwt.__version__}", f"cryptography=={cryptography.__version__}"],
    ]
    for command in commands:
        completed = subprocess.run(
            command,
            cwd=root,
            env=environment,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT_SECONDS,
        )
        assert completed.returncode == 0, f"{command} failed:\n{completed.stderr}"
    return venv


def _published_env(**extra: str) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    environment.update(NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost", **extra)
    return environment


def _zero_gzip_mtime(user_claims: str) -> bytes:
    raw = bytearray(base64.decodebytes(user_claims.encode()))
    raw[4:8] = bytes(4)
    return bytes(raw)


def _verified(token: str, keypair: KeyPair) -> dict[str, Any]:
    return jwt.decode(
        token, load_public_key(keypair.public_b64), algorithms=["RS256"], audience=AUDIENCE
    )


def _assert_same_shape(
    theirs: str, ours: str, keypair: KeyPair
) -> tuple[dict[str, Any], dict[str, Any]]:
    assert jwt.get_unverified_header(theirs) == jwt.get_unverified_header(ours)
    their_claims, our_claims = _verified(theirs, keypair), _verified(ours, keypair)
    assert list(their_claims) == list(our_claims)
    for claims in (their_claims, our_claims):
        assert claims["nbf"] == claims["iat"]
        assert uuid.UUID(claims["jti"]).version == 4
    assert their_claims["exp"] - their_claims["iat"] == our_claims["exp"] - our_claims["iat"]
    assert abs(their_claims["iat"] - our_claims["iat"]) < RUN_TIMEOUT_SECONDS
    for name in set(their_claims) - {"iat", "nbf", "exp", "jti", "user_claims"}:
        assert their_claims[name] == our_claims[name]
    assert decompress_claims(their_claims["user_claims"]) == decompress_claims(
        our_claims["user_claims"]
    )
    return their_claims, our_claims


def test_tokens_and_helpers_match_the_published_package(
    published_venv: Path, keypair: KeyPair
) -> None:
    lifetime = datetime.timedelta(hours=3)
    ours = generate_token(
        flowapi_identifier=AUDIENCE,
        flowauth_identifier="TEST_FLOWAUTH",
        username="TEST_USER",
        private_key=load_private_key(keypair.private_b64),
        lifetime=lifetime,
        roles=ROLES,
    )
    request = {
        "our_token": ours,
        "public_key": keypair.public_b64,
        "private_key": keypair.private_b64,
        "audience": AUDIENCE,
        "issuer": "TEST_FLOWAUTH",
        "username": "TEST_USER",
        "lifetime_seconds": lifetime.total_seconds(),
        "roles": ROLES,
        "squash_inputs": SQUASH_INPUTS,
    }
    completed = subprocess.run(
        [str(published_venv / "bin" / "python"), "-c", PUBLISHED_DRIVER],
        input=json.dumps(request),
        env=_published_env(),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
    )
    assert completed.returncode == 0, completed.stderr
    answer = json.loads(completed.stdout)

    their_claims, _ = _assert_same_shape(answer["token"], ours, keypair)
    assert list(their_claims) == ["iat", "nbf", "jti", "user_claims", "sub", "exp", "aud", "iss"]
    # Their package reads our user_claims, and both encode the same roles byte for byte
    # (apart from the gzip timestamp).
    assert answer["our_roles"] == ROLES
    assert _zero_gzip_mtime(answer["compressed"]) == _zero_gzip_mtime(compress_claims(ROLES))
    assert answer["compressed"].count("\n") == compress_claims(ROLES).count("\n")
    assert answer["squashed"] == [list(squashed_scopes(scopes)) for scopes in SQUASH_INPUTS]

    their_private, their_public = answer["keypair"]
    token = generate_token(
        username="u", private_key=load_private_key(their_private), lifetime=lifetime, roles={}
    )
    assert jwt.decode(token, load_public_key(their_public), algorithms=["RS256"])["sub"] == "u"


def test_cli_matches_the_published_generate_jwt(
    published_venv: Path, keypair: KeyPair, spec_server: SpecServer
) -> None:
    from click.testing import CliRunner

    arguments = ["--username", "TEST_USER", "--lifetime", "3", "--flowapi-url", spec_server.url]
    completed = subprocess.run(
        [str(published_venv / "bin" / "generate-jwt"), *arguments],
        env=_published_env(PRIVATE_JWT_SIGNING_KEY=keypair.private_b64),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
    )
    assert completed.returncode == 0, completed.stderr
    result = CliRunner().invoke(
        print_token, arguments, env={"PRIVATE_JWT_SIGNING_KEY": keypair.private_b64}
    )
    assert result.exit_code == 0, result.output

    theirs, ours = completed.stdout, result.output
    assert theirs.endswith("\n") and ours.endswith("\n")
    their_claims, _ = _assert_same_shape(theirs.strip(), ours.strip(), keypair)
    assert decompress_claims(their_claims["user_claims"]) == {"universal_role": SCOPES}
