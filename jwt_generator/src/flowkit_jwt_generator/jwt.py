"""Build and sign FlowAPI access tokens, and the helpers around them.

A token is an RS256 JWT whose claims are `iat`, `nbf`, `jti`, `user_claims`, `sub`, `exp` and,
when given, `aud` (the FlowAPI identifier) and `iss` (the FlowAuth identifier). `user_claims`
carries the permissions, a mapping of role name to a list of scope strings, as
base64(gzip(JSON)): the form FlowAPI 1.34 decompresses. Keys are PEM text, optionally wrapped
in base64 so they fit in one environment variable.

The spec helpers ask a running FlowAPI for `/api/0/spec/openapi.json`, whose bearer security
scheme publishes every scope (`x-security-scopes`) and the expected audience (`x-audience`).
"""

from __future__ import annotations

import base64
import datetime
import gzip
import io
import json
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Sequence
from functools import cache
from typing import Any, TypeVar, cast

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

__all__ = [
    "compress_claims",
    "decompress_claims",
    "generate_keypair",
    "generate_token",
    "get_all_claims_from_flowapi",
    "get_audience_from_flowapi",
    "get_security_schemes_from_api_spec",
    "load_private_key",
    "load_public_key",
    "squashed_scopes",
]

RSA_KEY_SIZE = 4096
SPEC_PATH = "/api/0/spec/openapi.json"
SPEC_TIMEOUT_SECONDS = 30.0

# Base64 wrapping is peeled off at most this many times before a key string is given up on.
_MAX_BASE64_LAYERS = 8

_Key = TypeVar("_Key")


def compress_claims(claims: Any) -> str:
    """Encode `claims` as FlowAPI expects `user_claims`: base64 of gzipped JSON.

    The gzip stream is written at level 9 with no file name and the current time as its
    modification time; the base64 text has a newline every 76 characters and at the end.
    """
    buffer = io.BytesIO()
    # Streaming the JSON through a text-mode gzip file (rather than compressing one string)
    # matters: deflate's output depends on how its input arrives, and this is how FlowKit 1.34
    # feeds it, so the compressed bytes come out identical.
    with gzip.open(buffer, mode="wt", compresslevel=9, encoding="utf-8") as text:
        json.dump(claims, text)
    return base64.encodebytes(buffer.getvalue()).decode("ascii")


def decompress_claims(claims: str) -> Any:
    """Decode a `user_claims` string made by `compress_claims` back into its JSON value."""
    return json.loads(gzip.decompress(base64.decodebytes(claims.encode())))


def _load_key(
    key_string: str, load_pem: Callable[[bytes], _Key], errors: tuple[type[Exception], ...]
) -> _Key:
    """Load a PEM key from `key_string`, peeling off layers of base64 until one parses."""
    text = key_string
    for _ in range(_MAX_BASE64_LAYERS):
        try:
            return load_pem(text.encode())
        except errors:
            pass
        try:
            text = base64.b64decode(text).decode()
        except ValueError:  # binascii.Error and UnicodeDecodeError are both ValueErrors
            break
        if not text:
            break
    raise ValueError("Failed to load key.")


def load_private_key(key_string: str) -> rsa.RSAPrivateKey:
    """Load an unencrypted private key from PEM text, or from base64 of the PEM text.

    Raises ValueError("Failed to load key.") when neither form parses. The key type is not
    checked: as with FlowKit, a non-RSA key loads and is refused later, when signing.
    """
    key = _load_key(
        key_string,
        lambda pem: serialization.load_pem_private_key(pem, password=None),
        (ValueError,),
    )
    return cast(rsa.RSAPrivateKey, key)


def load_public_key(key_string: str) -> rsa.RSAPublicKey:
    """Load a public key from PEM text, or from base64 of the PEM text.

    Raises ValueError("Failed to load key.") when neither form parses.
    """
    key = _load_key(key_string, serialization.load_pem_public_key, (ValueError, TypeError))
    return cast(rsa.RSAPublicKey, key)


def generate_keypair() -> tuple[bytes, bytes]:
    """Make a fresh 4096-bit RSA key pair and return it as PEM bytes: (private, public).

    The private key is unencrypted "traditional OpenSSL" PEM, the public key
    SubjectPublicKeyInfo PEM. Base64-encode them to pass them through environment variables
    such as `PRIVATE_JWT_SIGNING_KEY` and `PUBLIC_JWT_SIGNING_KEY`.
    """
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_SIZE)
    private_pem = private_key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.TraditionalOpenSSL,
        encryption_algorithm=serialization.NoEncryption(),
    )
    public_pem = private_key.public_key().public_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PublicFormat.SubjectPublicKeyInfo,
    )
    return private_pem, public_pem


def generate_token(
    *,
    flowapi_identifier: str | None = None,
    flowauth_identifier: str | None = None,
    username: str,
    private_key: str | rsa.RSAPrivateKey,
    lifetime: datetime.timedelta,
    roles: dict[str, list[str]],
    compress: bool = True,
    privacy: dict[str, float] | None = None,
) -> str:
    """Return a signed RS256 token for `username` holding `roles`, valid from now for `lifetime`.

    `roles` maps a role name to the scopes it grants, for example
    `{"viewer": ["get_result", "admin3:spatial_aggregate:daily_location"]}`; FlowAPI lets a
    request through when one single role holds every scope it needs. `private_key` is a loaded
    RSA key or PEM text (not base64: use `load_private_key` for that). `flowapi_identifier`
    becomes the audience FlowAPI insists on, `flowauth_identifier` the issuer. With
    `compress=False` the roles are stored as plain JSON, which FlowAPI does not accept.

    `privacy` (ours, for servers in the differential-privacy release mode) becomes the top-level
    `privacy` claim, e.g. `{"max_epsilon_per_query": 1.0, "epsilon_budget": 5.0}`, as FlowAuth
    mints it for a role with privacy limits; without it the token has no such claim (FlowKit's tokens).
    """
    now = datetime.datetime.now(datetime.UTC)
    claims: dict[str, Any] = {
        "iat": now,
        "nbf": now,
        "jti": str(uuid.uuid4()),
        "user_claims": compress_claims(roles) if compress else roles,
        "sub": username,
        "exp": now + lifetime,
    }
    if flowapi_identifier is not None:
        claims["aud"] = flowapi_identifier
    if flowauth_identifier is not None:
        claims["iss"] = flowauth_identifier
    if privacy is not None:
        claims["privacy"] = dict(privacy)
    return jwt.encode(claims, private_key, algorithm="RS256")


@cache
def get_security_schemes_from_api_spec(flowapi_url: str) -> dict[str, Any]:
    """Fetch `components.securitySchemes` from the OpenAPI spec of the FlowAPI at `flowapi_url`.

    The spec is public, so no token is sent. Answers are cached per URL for the life of the
    process.
    """
    url = f"{flowapi_url.rstrip('/')}{SPEC_PATH}"
    with urllib.request.urlopen(url, timeout=SPEC_TIMEOUT_SECONDS) as response:
        spec = json.load(response)
    return cast(dict[str, Any], spec["components"]["securitySchemes"])


def get_all_claims_from_flowapi(flowapi_url: str) -> list[str]:
    """List every scope the FlowAPI at `flowapi_url` knows, as published in its spec.

    Granting all of them in one role gives full access to that server.
    """
    return cast(
        list[str], get_security_schemes_from_api_spec(flowapi_url)["token"]["x-security-scopes"]
    )


def get_audience_from_flowapi(flowapi_url: str) -> str:
    """Return the identifier the FlowAPI at `flowapi_url` expects as a token's audience."""
    return cast(str, get_security_schemes_from_api_spec(flowapi_url)["token"]["x-audience"])


def _squash_at(scopes: Iterable[str], position: int) -> tuple[list[str], bool]:
    """Merge scopes that differ only in their `&`-separated part at `position`.

    Returns the merged, sorted scopes and whether any scope had a part at that position.
    """
    groups: dict[tuple[str, str], set[str]] = {}
    reached = False
    for scope in scopes:
        parts = scope.split("&")
        alternatives = groups.setdefault(
            ("&".join(parts[:position]), "&".join(parts[position + 1 :])), set()
        )
        if position < len(parts):
            alternatives.add(parts[position])
            reached = True
    merged = set()
    for (before, after), alternatives in groups.items():
        pieces = [before] if before else []
        if alternatives:
            pieces.append(",".join(sorted(alternatives)))
        if after:
            pieces.append(after)
        merged.add("&".join(pieces))
    return sorted(merged), reached


def squashed_scopes(scopes: Sequence[str]) -> Iterable[str]:
    """Shorten a list of pre-1.18 scope strings by merging those that differ in one part.

    Scopes of the old `<action>&<query_kind>.<arg>.<value>` grammar that differ only in one
    `&`-separated part are joined with commas, e.g. `run&q.a.b` and `get_result&q.a.b` become
    `get_result,run&q.a.b`; the merge is applied to each part position in turn. FlowKit 1.34
    still ships this helper although its own scopes no longer use that grammar.
    """
    merged, position, reached = list(scopes), 0, True
    while reached:
        merged, reached = _squash_at(merged, position)
        position += 1
    yield from merged
