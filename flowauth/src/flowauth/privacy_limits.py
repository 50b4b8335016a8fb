"""A role's differential-privacy limits (issue 21) and the `privacy` claim of the tokens minted with it.

A FlowAPI whose FlowMachine runs in the `differential_privacy` release mode answers only queries that name an
epsilon, and only to tokens carrying

    "privacy": {"max_epsilon_per_query": <number>, "epsilon_budget": <number>}

A role sets both limits or neither (numbers above 0, at most MAX_EPSILON, the per-query maximum no larger than
the budget). A token's claim takes, over its roles that set limits, the smallest of each (the strictest); a
token none of whose roles set limits has no claim, as FlowKit's tokens.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from flowauth.errors import bad_request
from flowauth.models import Role

MAX_EPSILON = 10_000.0
FIELDS = ("max_epsilon_per_query", "epsilon_budget")


def _epsilon(value: Any, key: str) -> float | None:
    """A limit from a request body: null (no limit) or a JSON number in (0, MAX_EPSILON]."""
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 < value <= MAX_EPSILON
    ):
        raise bad_request(
            f"{key} must be a number above 0 and at most {MAX_EPSILON:g}, or null.", bad_field=key
        )
    return float(value)


def set_limits(role: Role, body: dict[str, Any]) -> None:
    """Apply the limits `body` sends (either key may be left out: it keeps its value); 400 unless the
    result is both limits or neither, with the per-query maximum within the budget."""
    per_query = (
        _epsilon(body[FIELDS[0]], FIELDS[0]) if FIELDS[0] in body else role.max_epsilon_per_query
    )
    budget = _epsilon(body[FIELDS[1]], FIELDS[1]) if FIELDS[1] in body else role.epsilon_budget
    if (per_query is None) != (budget is None):
        missing = FIELDS[0] if per_query is None else FIELDS[1]
        raise bad_request(
            "Set both privacy limits (max_epsilon_per_query and epsilon_budget) or neither.",
            bad_field=missing,
        )
    if per_query is not None and budget is not None and per_query > budget:
        raise bad_request(
            "max_epsilon_per_query cannot be greater than epsilon_budget.", bad_field=FIELDS[0]
        )
    role.max_epsilon_per_query, role.epsilon_budget = per_query, budget


def limits_dict(role: Role) -> dict[str, float]:
    """The role's limits as role shapes show them: both keys when set, nothing otherwise (FlowKit's shape)."""
    if role.max_epsilon_per_query is None or role.epsilon_budget is None:
        return {}
    return {
        "max_epsilon_per_query": role.max_epsilon_per_query,
        "epsilon_budget": role.epsilon_budget,
    }


def privacy_claim(roles: Iterable[Role]) -> dict[str, float] | None:
    """The `privacy` claim of a token of these roles: the strictest limits among them, or None."""
    limited = [limits_dict(role) for role in roles]
    limited = [limits for limits in limited if limits]
    if not limited:
        return None
    return {key: min(limits[key] for limits in limited) for key in FIELDS}
