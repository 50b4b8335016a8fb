"""Access tokens: verifying them and reading the roles they grant.

A token is an RS256 JWT (no other algorithm is accepted, so neither `alg: none` nor an HS256 token
signed with the public key gets through) whose audience is this server's FLOWAPI_IDENTIFIER, whose
`sub` names the user and whose `user_claims` is base64(gzip(JSON {role: [scope, ...]})).

Failures, as FlowKit 1.34 answers them (flask-jwt-extended semantics):

    TokenError                       status  access-log event
    ├── MissingToken                 401     UNAUTHORISED        no / garbled Authorization header
    ├── ExpiredToken                 401     EXPIRED_TOKEN       `exp` has passed
    └── InvalidToken                 422     INVALID_TOKEN       bad signature, algorithm, audience,
                                                                 `nbf` in the future, missing claims,
                                                                 undecodable user_claims, a `privacy`
                                                                 claim that is not two positive numbers
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import time
import zlib
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from flowapi.privacy import InvalidPrivacyClaim, PrivacyLimits, privacy_limits

ALGORITHM = "RS256"


class TokenError(Exception):
    status = 422
    event = "INVALID_TOKEN"

    def __init__(self, msg: str) -> None:
        super().__init__(msg)
        self.msg = msg


class MissingToken(TokenError):
    status = 401
    event = "UNAUTHORISED"


class ExpiredToken(TokenError):
    status = 401
    event = "EXPIRED_TOKEN"


class InvalidToken(TokenError):
    pass


@dataclass(frozen=True)
class User:
    """Who made a request and the scopes each of their roles holds."""

    name: str
    roles: dict[str, frozenset[str]]
    # The token's differential-privacy limits (its `privacy` claim; flowapi.privacy), and its `jti` and `exp`
    # (facts about the token the ledger records, not about who the user is: left out of comparisons).
    privacy: PrivacyLimits | None = None
    token_id: str | None = field(default=None, compare=False)
    expires: int | None = field(default=None, compare=False)


def bearer_token(header: str | None) -> str:
    """The token in an `Authorization: Bearer <JWT>` header; MissingToken if there is none."""
    if not header:
        raise MissingToken("Missing Authorization Header")
    parts = header.split()
    if len(parts) != 2 or parts[0] != "Bearer":
        raise MissingToken("Bad Authorization header. Expected value 'Bearer <JWT>'")
    return parts[1]


def decompress_roles(user_claims: Any) -> dict[str, frozenset[str]]:
    """The roles in a `user_claims` claim; InvalidToken if it is not base64(gzip(JSON roles))."""
    if not isinstance(user_claims, str):
        raise InvalidToken("Invalid user_claims: expected compressed roles.")
    try:
        roles = json.loads(gzip.decompress(base64.b64decode(user_claims)))
    except (binascii.Error, ValueError, OSError, EOFError, zlib.error):
        raise InvalidToken("Invalid user_claims: expected compressed roles.") from None
    if not isinstance(roles, dict) or not all(
        isinstance(scopes, list) and all(isinstance(s, str) for s in scopes)
        for scopes in roles.values()
    ):
        raise InvalidToken("Invalid user_claims: expected a mapping of roles to lists of scopes.")
    return {str(name): frozenset(scopes) for name, scopes in roles.items()}


def verify_token(token: str, *, key: RSAPublicKey, audience: str) -> User:
    """The user a token speaks for, after checking its signature, lifetime, audience and claims."""
    return _verify(token, key=key, audience=audience)[0]


@dataclass(frozen=True)
class _Verified:
    user: User
    iat: int | None
    nbf: int | None
    exp: int


def _int_claim(claims: dict[str, Any], name: str) -> int | None:
    return int(claims[name]) if name in claims else None


class VerifiedTokens:
    """Tokens this server has verified, so a client's every request does not pay for it again.

    The same token string is the same signed claims: its signature, algorithm, audience and claims need
    checking once (over half a millisecond per request with PyJWT). Its lifetime is checked at every use,
    by PyJWT's rules (`iat` and `nbf` not in the future, `exp` not reached). At most `size` tokens are
    kept, least recently used first out.
    """

    def __init__(self, *, key: RSAPublicKey, audience: str, size: int = 1024) -> None:
        self.key, self.audience, self.size = key, audience, size
        self._items: OrderedDict[str, _Verified] = OrderedDict()

    def user(self, token: str, *, now: float | None = None) -> User:
        known = self._items.get(token)
        if known is None:
            user, claims = _verify(token, key=self.key, audience=self.audience)
            self._items[token] = _Verified(
                user, _int_claim(claims, "iat"), _int_claim(claims, "nbf"), int(claims["exp"])
            )
            while len(self._items) > self.size:
                self._items.popitem(last=False)
            return user
        self._items.move_to_end(token)
        now = time.time() if now is None else now
        if known.iat is not None and known.iat > now:
            raise InvalidToken("The token is not yet valid (iat)")
        if known.nbf is not None and known.nbf > now:
            raise InvalidToken("The token is not yet valid (nbf)")
        if known.exp <= now:
            raise ExpiredToken("Token has expired")
        return known.user


def _verify(token: str, *, key: RSAPublicKey, audience: str) -> tuple[User, dict[str, Any]]:
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=audience,
            options={"require": ["exp", "sub", "aud"]},
        )
    except jwt.ExpiredSignatureError:
        raise ExpiredToken("Token has expired") from None
    except jwt.MissingRequiredClaimError as exc:
        if exc.claim == "sub":
            raise InvalidToken("Missing claim: sub") from None
        raise InvalidToken(str(exc)) from None
    except jwt.InvalidTokenError as exc:
        raise InvalidToken(str(exc) or type(exc).__name__) from None
    subject = claims["sub"]
    if not isinstance(subject, str) or not subject:
        raise InvalidToken("Missing claim: sub")
    try:
        privacy = privacy_limits(claims.get("privacy"))
    except InvalidPrivacyClaim as exc:
        raise InvalidToken(str(exc)) from None
    jti = claims.get("jti")
    user = User(
        name=subject,
        roles=decompress_roles(claims.get("user_claims")),
        token_id=jti if isinstance(jti, str) and jti else None,
        expires=int(claims["exp"]),
        privacy=privacy,
    )
    return user, claims
