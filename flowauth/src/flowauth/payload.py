"""Reading JSON request bodies: every wrong value becomes a 400 naming the field (`bad_field`).

Types are strict: a number must be a JSON integer (not a string of digits, a fraction or true/false), a flag
true or false, a text a string. Bodies nested deeper than MAX_JSON_DEPTH are refused before anything walks them.

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
# Arrays and objects within one another; a FlowAPI spec (the deepest body FlowAuth takes) needs about 20.
MAX_JSON_DEPTH = 100


def json_value() -> Any:
    """The request's JSON body (None when there is none or it is not JSON).

    Nesting deeper than MAX_JSON_DEPTH is refused, and so is text holding NUL characters (PostgreSQL cannot
    store it).
    """
    try:
        value = request.get_json(silent=True)
    except RecursionError:  # the parser gave up long before any limit of ours
        raise bad_request(TOO_DEEP) from None
    problem = _problem(value)
    if problem is not None:
        raise bad_request(problem)
    return value


TOO_DEEP = f"The request body is nested too deeply (at most {MAX_JSON_DEPTH} levels)."
HAS_NUL = "Text must not contain NUL characters."


def _problem(value: Any) -> str | None:
    """TOO_DEEP, HAS_NUL or None, walking `value` without recursion (no depth can exhaust the stack)."""
    nul = False
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            nul = nul or "\x00" in item
        elif isinstance(item, (list, dict)):
            if depth >= MAX_JSON_DEPTH:
                return TOO_DEEP
            if isinstance(item, dict):
                nul = nul or any("\x00" in key for key in item)
                item = item.values()
            stack.extend((child, depth + 1) for child in item)
    return HAS_NUL if nul else None


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
    """A JSON integer within [minimum, maximum] (not a string, a fraction or a bool)."""
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise bad_request(
            f"{key} must be a whole number from {minimum} to {maximum}.", bad_field=key
        )
    return value


def id_list(body: dict[str, Any], key: str) -> list[int] | None:
    """A list of integer ids (duplicates dropped, order kept); None when absent or null."""
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, list):
        raise bad_request(f"{key} must be a list of ids.", bad_field=key)
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int) or not 1 <= item <= MAX_ID:
            raise bad_request(f"{key} must be a list of ids.", bad_field=key)
    return list(dict.fromkeys(value))


def valid_id(value: int) -> bool:
    """Whether `value` could be a row id (route ids are checked before they reach the database)."""
    return 1 <= value <= MAX_ID
