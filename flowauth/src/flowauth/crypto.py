"""Passwords (argon2), secrets at rest (Fernet), password strength (zxcvbn), random codes."""

from __future__ import annotations

import secrets
import string

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet, InvalidToken
from zxcvbn import zxcvbn

_hasher = PasswordHasher()
# Backup codes are random (62**10 possibilities), so a light argon2 setting is as safe for them as the full
# one is for chosen passwords, and checking a code against 16 hashes stays fast.
_code_hasher = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
_dummy_hash: str | None = None

# zxcvbn scores 0..4; FlowKit asks for 4 ("very unguessable") on every password set through the app.
REQUIRED_PASSWORD_SCORE = 4
# The longest password accepted anywhere (sign-in, setting one, the administrator's); argon2 takes any length.
MAX_PASSWORD_LENGTH = 1024
# zxcvbn refuses longer input (its matching grows much faster than the length: 256 characters can take
# seconds), so the strength of a longer password is judged on its first this many characters; the rest can only
# make it stronger.
ZXCVBN_MAX_LENGTH = 72


def hash_secret(plain: str) -> str:
    return _hasher.hash(plain)


def hash_code(plain: str) -> str:
    """Hash a random code (a two-factor backup code); `verify_secret` checks it."""
    return _code_hasher.hash(plain)


def verify_secret(hashed: str, plain: str) -> bool:
    """Whether `plain` matches an argon2 hash made by `hash_secret` or `hash_code`."""
    try:
        return _hasher.verify(hashed, plain)
    except (VerificationError, InvalidHashError):
        return False


def waste_verification(plain: str) -> None:
    """Spend the time a password check takes, so an unknown username answers as slowly as a known one."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash(secrets.token_urlsafe(16))
    verify_secret(_dummy_hash, plain)


def password_problem(password: str | None, user_inputs: list[str] | None = None) -> str | None:
    """Why `password` cannot be used (FlowKit's messages), or None if it is strong enough."""
    if not password:
        return "Password must be provided."
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"Password must be at most {MAX_PASSWORD_LENGTH} characters."
    if _strength(password, user_inputs)[0] < REQUIRED_PASSWORD_SCORE:
        return "Password not complex enough."
    return None


def _strength(password: str, user_inputs: list[str] | None = None) -> tuple[int, str, list[str]]:
    """zxcvbn's verdict on the first ZXCVBN_MAX_LENGTH characters of `password`: (score, warning,
    suggestions)."""
    result = zxcvbn(
        password[:ZXCVBN_MAX_LENGTH],
        user_inputs=[text[:ZXCVBN_MAX_LENGTH] for text in user_inputs or []],
        max_length=ZXCVBN_MAX_LENGTH,
    )
    feedback = result["feedback"]
    return result["score"], feedback.get("warning", ""), feedback.get("suggestions", [])


def password_advice(password: str) -> dict:
    """{score, suggestions, warning} for a strength meter (a password too long to use scores 0)."""
    if len(password) > MAX_PASSWORD_LENGTH:
        return {
            "score": 0,
            "warning": f"Password must be at most {MAX_PASSWORD_LENGTH} characters.",
            "suggestions": [],
        }
    score, warning, suggestions = _strength(password) if password else (0, "", [])
    return {"score": score, "warning": warning, "suggestions": suggestions}


class SecretBox:
    """Fernet encryption of what FlowAuth must be able to read back (issued tokens, TOTP secrets)."""

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    def seal(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            raise ValueError(
                "a stored secret cannot be decrypted: FLOWAUTH_FERNET_KEY changed?"
            ) from None


def backup_codes(n: int = 16, length: int = 10) -> list[str]:
    """FlowKit's two-factor backup codes: `n` codes of `length` letters and digits."""
    alphabet = string.ascii_letters + string.digits
    return ["".join(secrets.choice(alphabet) for _ in range(length)) for _ in range(n)]
