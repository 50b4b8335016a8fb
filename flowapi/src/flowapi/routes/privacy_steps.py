"""The differential-privacy steps of the query routes: checks at /run, the ledger debit at /get, the headers.

Only queries that name an epsilon (their spec at /run and /poll, FlowMachine's result reply at /get) go
through these steps; every other request is answered exactly as before.

    run  (spec has epsilon)      403 unless the token has privacy limits, a jti and epsilon <= its maximum;
                                 once the query id is known, 403 "Privacy budget exhausted: ..." when its
                                 first get would be refused (so an analyst learns it before waiting)
    poll (spec has epsilon)      headers only
    get  (reply has epsilon)     the same 403s; then, once the result is open, the ledger debit
                                 (403 "Privacy budget exhausted: ..." and nothing streamed when refused)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable
from decimal import Decimal
from typing import TypeVar

import asyncpg
from quart import request

from flowapi.auth import User
from flowapi.error_handlers import internal_error
from flowapi.errors import APIError
from flowapi.ledger import BudgetExhausted, Ledger
from flowapi.privacy import PrivacyLimits, headers, refusal
from flowapi.state import state


def refused(msg: str) -> APIError:
    return APIError(403, msg, outcome="PRIVACY_REFUSED")


def require_privacy(user: User, epsilon: Decimal) -> PrivacyLimits:
    """The token's limits, when it may spend `epsilon` on one query; 403 otherwise."""
    problem = refusal(user.privacy, user.token_id, epsilon)
    if problem is not None or user.privacy is None:
        raise refused(problem or "The token carries no privacy limits.")
    return user.privacy


async def _ledger() -> Ledger:
    return Ledger(await state().results.pool())


T = TypeVar("T")


async def _with_ledger_errors(call: Awaitable[T]) -> T:
    try:
        return await call
    except asyncpg.UndefinedTableError:
        raise internal_error(
            "The privacy ledger is not available (FlowDB needs migration 0007).", 503
        ) from None
    except asyncpg.PostgresError:
        raise internal_error("Could not read or update the privacy ledger.") from None


async def balance_headers(user: User, epsilon: Decimal) -> dict[str, str]:
    """The headers of a private query id for this token, without spending anything."""
    if user.privacy is None or user.token_id is None:
        return headers(epsilon, None, None)
    ledger = await _ledger()
    balance = await _with_ledger_errors(
        ledger.balance(token_id=user.token_id, user=user.name, budget=user.privacy.epsilon_budget)
    )
    return headers(epsilon, balance.spent, balance.remaining)


async def require_budget(user: User, query_id: str, epsilon: Decimal) -> None:
    """403 when the first get of `query_id` would exceed the token's or user's budget as things stand (free
    when the token has it already). The debit itself stays at get, where the release happens."""
    limits = require_privacy(user, epsilon)
    assert user.token_id is not None  # require_privacy refuses tokens without one
    ledger = await _ledger()
    problem = await _with_ledger_errors(
        ledger.refusal(
            token_id=user.token_id,
            user=user.name,
            query_id=query_id,
            epsilon=epsilon,
            budget=limits.epsilon_budget,
        )
    )
    if problem is not None:
        raise APIError(
            403,
            problem,
            outcome="PRIVACY_BUDGET_EXHAUSTED",
            headers=await balance_headers(user, epsilon),
        )


async def release_headers(user: User, query_id: str, epsilon: Decimal) -> dict[str, str]:
    """Charge the release of `query_id`'s result to the token (free if it had it already; nothing for HEAD,
    which streams no body); its headers. 403 when the budget cannot cover it."""
    limits = require_privacy(user, epsilon)
    assert user.token_id is not None  # require_privacy refuses tokens without one
    if request.method == "HEAD":
        return await balance_headers(user, epsilon)
    ledger = await _ledger()
    expires = dt.datetime.fromtimestamp(user.expires, dt.UTC) if user.expires is not None else None
    try:
        balance = await _with_ledger_errors(
            ledger.charge(
                token_id=user.token_id,
                user=user.name,
                query_id=query_id,
                epsilon=epsilon,
                budget=limits.epsilon_budget,
                expires=expires,
            )
        )
    except BudgetExhausted as exc:
        raise APIError(403, exc.msg, outcome="PRIVACY_BUDGET_EXHAUSTED") from None
    return headers(epsilon, balance.spent, balance.remaining)
