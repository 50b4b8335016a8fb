"""Differential-privacy limits a token carries, and the decisions that need no database.

A server in FlowMachine's `differential_privacy` release mode answers count-type queries with noise, each query
spending the `epsilon` its spec names. FlowAuth writes a role's limits into the tokens it mints as a top-level
claim (docs/DP contract):

    "privacy": {"max_epsilon_per_query": 1.0, "epsilon_budget": 5.0}

A query whose spec (at /run) or whose result (at /get) names an epsilon needs a token with this claim and an
epsilon no larger than its `max_epsilon_per_query`; the budget is kept by `flowapi.ledger`. Queries without an
epsilon (the default redaction mode) are not touched by any of this.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

# Response headers of a differentially private query id.
EPSILON_HEADER = "X-Privacy-Epsilon"
SPENT_HEADER = "X-Privacy-Epsilon-Spent"
REMAINING_HEADER = "X-Privacy-Epsilon-Remaining"


class InvalidPrivacyClaim(ValueError):
    """The token's `privacy` claim is not two positive numbers."""


@dataclass(frozen=True)
class PrivacyLimits:
    """A token's limits: the most one query may spend, and the total its token (and its user) may spend."""

    max_epsilon_per_query: Decimal
    epsilon_budget: Decimal


def _positive(value: Any, name: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidPrivacyClaim(f"Invalid privacy claim: {name} must be a number.")
    if not math.isfinite(value) or value <= 0:
        raise InvalidPrivacyClaim(f"Invalid privacy claim: {name} must be above 0.")
    return Decimal(str(value))


def privacy_limits(claim: Any) -> PrivacyLimits | None:
    """The limits in a token's `privacy` claim (None when there is none); InvalidPrivacyClaim if malformed."""
    if claim is None:
        return None
    if not isinstance(claim, dict):
        raise InvalidPrivacyClaim("Invalid privacy claim: expected an object.")
    return PrivacyLimits(
        max_epsilon_per_query=_positive(
            claim.get("max_epsilon_per_query"), "max_epsilon_per_query"
        ),
        epsilon_budget=_positive(claim.get("epsilon_budget"), "epsilon_budget"),
    )


def spec_epsilon(spec: dict[str, Any]) -> Decimal | None:
    """The epsilon a query spec asks to spend (its top-level `epsilon`), or None for a query without one.

    FlowMachine validates the field (a number above 0) before FlowAPI looks at it; a value that is no
    positive number still counts as a request for a private release, so it can never slip past the checks."""
    if "epsilon" not in spec:
        return None
    value = spec["epsilon"]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return Decimal("Infinity")
    return Decimal(str(value))


def refusal(limits: PrivacyLimits | None, token_id: str | None, epsilon: Decimal) -> str | None:
    """Why a token may not spend `epsilon` on one query (None: it may, budget permitting)."""
    shown = show(epsilon)
    if limits is None:
        return (
            f"This query releases a differentially private result (epsilon {shown}): "
            "the token carries no privacy limits. Ask for a token of a role with privacy limits."
        )
    if token_id is None:
        return (
            f"This query releases a differentially private result (epsilon {shown}): "
            "the token has no jti claim, so its spending cannot be recorded."
        )
    if epsilon > limits.max_epsilon_per_query:
        return (
            f"Epsilon {shown} is above this token's limit of "
            f"{show(limits.max_epsilon_per_query)} per query."
        )
    return None


def show(value: Decimal) -> str:
    """A number as headers and messages show it: plain decimal, no exponent, no trailing zeros."""
    if not value.is_finite():
        return str(value)
    text = format(value.normalize(), "f")
    return text


def headers(epsilon: Decimal, spent: Decimal | None, remaining: Decimal | None) -> dict[str, str]:
    found = {EPSILON_HEADER: show(epsilon)}
    if spent is not None and remaining is not None:
        found[SPENT_HEADER] = show(spent)
        found[REMAINING_HEADER] = show(remaining)
    return found
