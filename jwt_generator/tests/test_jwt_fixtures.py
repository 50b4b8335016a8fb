"""The pytest plugin's fixtures, used directly (the plugin is loaded through its pytest11 entry
point) and from a consuming project's point of view with pytester."""

from __future__ import annotations

from collections.abc import Callable

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt_support import AUDIENCE, SCOPES, KeyPair, SpecServer

import flowkit_jwt_generator.fixtures
from flowkit_jwt_generator.jwt import decompress_claims

pytest_plugins = ["pytester"]

# The inner sessions need neither a cache directory nor the workspace's asyncio plugin.
INNER_PYTEST_OPTIONS = ("-p", "no:cacheprovider", "-p", "no:asyncio")

ROLES = {"reader": ["get_result", "admin3:spatial_aggregate:spatial_aggregate"]}


@pytest.fixture(autouse=True)
def _signing_keys_in_environment(signing_env: KeyPair) -> None:
    """Autouse, so the variables are set before the plugin's fixtures read them."""


def test_plugin_is_registered_through_its_entry_point(pytestconfig: pytest.Config) -> None:
    plugin = pytestconfig.pluginmanager.get_plugin("flowkit_jwt_generator")
    assert plugin is flowkit_jwt_generator.fixtures


@pytest.mark.parametrize(
    "name",
    [
        "private_key",
        "public_key",
        "public_key_bytes",
        "private_key_bytes",
        "access_token_builder",
        "universal_access_token",
    ],
)
def test_plugin_offers_the_1_34_fixtures(request: pytest.FixtureRequest, name: str) -> None:
    assert request.getfixturevalue(name) is not None


def test_key_fixtures_read_the_environment(
    keypair: KeyPair,
    private_key: rsa.RSAPrivateKey,
    public_key: rsa.RSAPublicKey,
    private_key_bytes: bytes,
    public_key_bytes: bytes,
) -> None:
    assert private_key.public_key().public_numbers() == public_key.public_numbers()
    assert private_key_bytes == keypair.private_pem
    assert public_key_bytes == keypair.public_pem


def test_access_token_builder_makes_short_lived_test_tokens(
    access_token_builder: Callable[[dict[str, list[str]]], str], public_key: rsa.RSAPublicKey
) -> None:
    claims = jwt.decode(
        access_token_builder(ROLES), public_key, algorithms=["RS256"], audience=AUDIENCE
    )
    assert claims["sub"] == "test"
    assert claims["exp"] - claims["iat"] == 300
    assert decompress_claims(claims["user_claims"]) == ROLES


def test_access_token_builder_omits_the_audience_without_flowapi_identifier(
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest, keypair: KeyPair
) -> None:
    monkeypatch.delenv("FLOWAPI_IDENTIFIER")
    builder = request.getfixturevalue("access_token_builder")
    claims = jwt.decode(builder(ROLES), keypair.public_pem, algorithms=["RS256"])
    assert "aud" not in claims


def test_access_token_builder_needs_the_private_key_variable(
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    monkeypatch.delenv("PRIVATE_JWT_SIGNING_KEY")
    with pytest.raises(OSError, match="PRIVATE_JWT_SIGNING_KEY environment variable must be set"):
        request.getfixturevalue("access_token_builder")


def test_universal_access_token_holds_every_scope_of_the_spec(
    universal_access_token: str, public_key: rsa.RSAPublicKey, spec_server: SpecServer
) -> None:
    claims = jwt.decode(universal_access_token, public_key, algorithms=["RS256"], audience=AUDIENCE)
    assert decompress_claims(claims["user_claims"]) == {"universal_role": SCOPES}
    assert spec_server.paths_requested == ["/api/0/spec/openapi.json"]


def test_a_consuming_project_gets_the_fixtures(
    pytester: pytest.Pytester, spec_server: SpecServer
) -> None:
    pytester.makeconftest(
        f"""
        import pytest

        @pytest.fixture
        def flowapi_url():
            return {spec_server.url!r}
        """
    )
    pytester.makepyfile(
        """
        import jwt
        from flowkit_jwt_generator.jwt import decompress_claims

        def test_tokens(universal_access_token, access_token_builder, public_key):
            for token in (universal_access_token, access_token_builder({"r": ["run"]})):
                claims = jwt.decode(token, public_key, algorithms=["RS256"], audience="TEST_SERVER")
                assert claims["sub"] == "test"
            roles = decompress_claims(jwt.decode(universal_access_token, options={"verify_signature": False})["user_claims"])
            assert list(roles) == ["universal_role"] and "run" in roles["universal_role"]
        """
    )
    result = pytester.runpytest_inprocess(*INNER_PYTEST_OPTIONS)
    result.assert_outcomes(passed=1)


def test_universal_access_token_needs_a_flowapi_url_fixture(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_token(universal_access_token):\n    pass\n")
    result = pytester.runpytest_inprocess(*INNER_PYTEST_OPTIONS)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'flowapi_url' not found*"])
