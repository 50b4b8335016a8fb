"""Reading JSON request bodies: every wrong value becomes a 400 naming the field (`bad_field`).

body = json_object()
name = text(body, "name", max_length=75, missing="No name.")
life = whole_number(body.get("lifetime_minutes"), "lifetime_minutes", minimum=1)
"""

from __future__ import annotations

from typing import Any

from flask import request

from flowauth.errors import bad_request

# Ids are 32-bit integers in PostgreSQL; larger numbers name nothing (and must not reach the driver).
MAX_ID = 2**31 - 1
# Lifetimes in minutes stay within about a century, so `now + lifetime` is always a valid datetime.
MAX_LIFETIME_MINUTES = 100 * 365 * 24 * 60


def json_value() -> Any:
    """The request's JSON body (None when there is none or it is not JSON).

    Text holding NUL characters is refused (PostgreSQL cannot store it), and so is nesting too deep to read.
    """
    try:
        value = request.get_json(silent=True)
    except RecursionError:
        raise bad_request("The request body is nested too deeply.") from None
    if _has_nul(value):
        raise bad_request("Text must not contain NUL characters.")
    return value


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    if isinstance(value, dict):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    return False


def json_object() -> dict[str, Any]:
    """The request's body, which must be a JSON object."""
    body = json_value()
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    return body


def text(
    body: dict[str, Any],
    key: str,
    *,
    max_length: int,
    missing: str,
    blank: str | None = None,
    too_long: str | None = None,
) -> str:
    """A non-blank string field (surrounding spaces removed); `missing` when absent or null."""
    value = body.get(key)
    if value is None:
        raise bad_request(missing, bad_field=key)
    if not isinstance(value, str):
        raise bad_request(f"{key} must be a string.", bad_field=key)
    value = value.strip()
    if not value:
        raise bad_request(blank or missing, bad_field=key)
    if len(value) > max_length:
        raise bad_request(
            too_long or f"{key} must be {max_length} characters or less.", bad_field=key
        )
    return value


def flag(body: dict[str, Any], key: str, default: bool | None = None) -> bool | None:
    """A true/false field; `default` when absent."""
    if key not in body:
        return default
    value = body[key]
    if not isinstance(value, bool):
        raise bad_request(f"{key} must be true or false.", bad_field=key)
    return value


def whole_number(
    value: Any, key: str, *, minimum: int = 1, maximum: int = MAX_LIFETIME_MINUTES
) -> int:
    """An integer within [minimum, maximum] (a string of digits is accepted, a fraction or a bool not)."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise bad_request(
            f"{key} must be a whole number from {minimum} to {maximum}.", bad_field=key
        )
    return value


def id_list(body: dict[str, Any], key: str) -> list[int] | None:
    """A list of integer ids (or digit strings; duplicates dropped, order kept); None when absent or null."""
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, list):
        raise bad_request(f"{key} must be a list of ids.", bad_field=key)
    ids = []
    for item in value:
        if isinstance(item, str) and item.strip().isdigit():
            item = int(item.strip())
        if isinstance(item, bool) or not isinstance(item, int) or not 1 <= item <= MAX_ID:
            raise bad_request(f"{key} must be a list of ids.", bad_field=key)
        ids.append(item)
    return list(dict.fromkeys(ids))


def valid_id(value: int) -> bool:
    """Whether `value` could be a row id (route ids are checked before they reach the database)."""
    return 1 <= value <= MAX_ID
