"""Two-factor authentication: TOTP codes (pyotp) and single-use backup codes.

Setting up is two steps with nothing stored in between: `start_setup` makes a secret and 16 backup codes and
hands them to the browser signed (itsdangerous, keyed by SECRET_KEY, valid 24 h); `confirm_setup` checks the
signatures and a code made from the secret, then stores the secret encrypted and the codes hashed.

A TOTP code is accepted once: the time step it belongs to is kept in `TwoFactorAuth.last_code` and a code of
that step or an earlier one is refused afterwards (FlowKit keeps the last code in a cache for the same
purpose). The update is conditional, so two requests racing with one code cannot both succeed.
"""

from __future__ import annotations

import datetime as dt
import hmac
from dataclasses import dataclass
from typing import Any

import pyotp
import segno
from itsdangerous import BadSignature, SignatureExpired, TimedSerializer, TimestampSigner
from sqlalchemy import CursorResult, Result, delete, or_, update
from sqlalchemy.orm import Session

from flowauth.crypto import SecretBox, backup_codes, hash_code, verify_secret
from flowauth.models import TwoFactorAuth, TwoFactorBackup, User

SETUP_MAX_AGE_SECONDS = 24 * 60 * 60
_SECRET_SALT = "flowauth.two-factor-secret"
_CODES_SALT = "flowauth.two-factor-backup-codes"
# Time steps are stored zero-padded, so comparing the strings compares the numbers.
_STEP_WIDTH = 12


class SetupError(Exception):
    """A signed setup value was altered or is too old; the message says which."""


@dataclass(frozen=True)
class Setup:
    provisioning_url: str
    secret: str  # signed: "<base32 secret>.<timestamp>.<signature>"
    issuer: str
    backup_codes: list[str]
    backup_codes_signature: str
    qr_code_svg: str

    def as_json(self) -> dict[str, object]:
        return {
            "provisioning_url": self.provisioning_url,
            "secret": self.secret,
            "issuer": self.issuer,
            "backup_codes": self.backup_codes,
            "backup_codes_signature": self.backup_codes_signature,
            "qr_code_svg": self.qr_code_svg,
        }


def qr_code_svg(text: str) -> str:
    """An inline SVG QR code of `text` (e.g. a provisioning URL), black on white."""
    return segno.make(text, error="m").svg_inline(scale=4, border=2, dark="#000", light="#fff")


def start_setup(secret_key: str, issuer: str, username: str) -> Setup:
    secret = pyotp.random_base32()
    url = pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=issuer)
    codes, signature = new_backup_codes(secret_key)
    signed = TimestampSigner(secret_key, salt=_SECRET_SALT).sign(secret).decode()
    return Setup(url, signed, issuer, codes, signature, qr_code_svg(url))


def new_backup_codes(secret_key: str) -> tuple[list[str], str]:
    """Fresh backup codes and their signature (what a later request hands back to store them)."""
    codes = backup_codes()
    serializer: TimedSerializer[str] = TimedSerializer(secret_key, salt=_CODES_SALT)  # JSON: text
    return codes, serializer.dumps(codes)


def read_signed_secret(secret_key: str, signed: str) -> str:
    try:
        return (
            TimestampSigner(secret_key, salt=_SECRET_SALT)
            .unsign(signed, max_age=SETUP_MAX_AGE_SECONDS)
            .decode()
        )
    except SignatureExpired:
        raise SetupError("Two-factor setup attempt has expired.") from None
    except BadSignature:
        raise SetupError("Two-factor setup attempt has been tampered with.") from None


def read_backup_codes(secret_key: str, signature: str) -> list[str]:
    try:
        codes = TimedSerializer(secret_key, salt=_CODES_SALT).loads(
            signature, max_age=SETUP_MAX_AGE_SECONDS
        )
    except SignatureExpired:
        raise SetupError("Backup codes have expired: generate new ones.") from None
    except BadSignature:
        raise SetupError("Backup codes have been tampered with.") from None
    if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
        raise SetupError("Backup codes have been tampered with.")
    return codes


def _normalise(code: str) -> str:
    return "".join(code.split())


def _matching_step(
    secret: str, code: str, valid_window: int, now: dt.datetime | None
) -> int | None:
    """The TOTP time step within the window whose code is `code`, or None."""
    code = _normalise(code)
    if not (code.isascii() and code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now or dt.datetime.now(dt.UTC))
    for step in range(current - valid_window, current + valid_window + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _step_text(step: int) -> str:
    return str(step).zfill(_STEP_WIDTH)


def confirm_setup(
    box: SecretBox,
    user: User,
    secret: str,
    code: str,
    codes: list[str],
    valid_window: int,
    now: dt.datetime | None = None,
) -> bool:
    """Turn two-factor on for `user` if `code` is right for `secret` (False otherwise; nothing changes).

    Replaces any earlier secret and backup codes. The code used here cannot be used again to sign in.
    """
    step = _matching_step(secret, code, valid_window, now)
    if step is None:
        return False
    auth = user.two_factor_auth
    if auth is None:
        auth = TwoFactorAuth(user_id=user.id)
        user.two_factor_auth = auth
    auth.secret_encrypted = box.seal(secret)
    auth.enabled = True
    auth.last_code = _step_text(step)
    replace_backup_codes(auth, codes)
    return True


def replace_backup_codes(auth: TwoFactorAuth, codes: list[str]) -> None:
    auth.backups = [TwoFactorBackup(code_hash=hash_code(code)) for code in codes]


def use_totp(
    session: Session,
    box: SecretBox,
    auth: TwoFactorAuth,
    code: str,
    valid_window: int,
    now: dt.datetime | None = None,
) -> bool:
    """Whether `code` is a TOTP code of the window not used before; if so it is used up."""
    step = _matching_step(box.open(auth.secret_encrypted), code, valid_window, now)
    if step is None:
        return False
    text = _step_text(step)
    result = session.execute(
        update(TwoFactorAuth)
        .where(TwoFactorAuth.user_id == auth.user_id)
        .where(or_(TwoFactorAuth.last_code.is_(None), TwoFactorAuth.last_code < text))
        .values(last_code=text)
        .execution_options(synchronize_session=False)
    )
    if _rowcount(result) != 1:
        return False
    auth.last_code = text
    return True


def _rowcount(result: Result[Any]) -> int:
    """The rows an UPDATE or DELETE matched (Session.execute gives a CursorResult for them, typed Result)."""
    if not isinstance(result, CursorResult):
        raise TypeError(
            f"expected the CursorResult of an UPDATE or DELETE, got {type(result).__name__}"
        )
    return result.rowcount


def use_backup_code(session: Session, auth: TwoFactorAuth, code: str) -> bool:
    """Whether `code` is one of the user's backup codes; if so it is deleted (single use)."""
    code = _normalise(code)
    if not code:
        return False
    for backup in list(auth.backups):
        if verify_secret(backup.code_hash, code):
            result = session.execute(
                delete(TwoFactorBackup)
                .where(TwoFactorBackup.id == backup.id)
                .execution_options(synchronize_session=False)
            )
            session.expire(auth, ["backups"])
            return _rowcount(result) == 1
    return False


def use_code(
    session: Session, box: SecretBox, auth: TwoFactorAuth, code: str, valid_window: int
) -> bool:
    """FlowKit's order: the code as a TOTP code first, then as a backup code."""
    return use_totp(session, box, auth, code, valid_window) or use_backup_code(session, auth, code)
