"""The epsilon ledger in FlowDB (schema `privacy`, flowdb migration 0007), through FlowAPI's asyncpg pool.

`charge` records the release of one query id's noisy result to one token, in one transaction that first locks
the user's row and then the token's (always in this order, so two debits cannot deadlock): of two requests
spending the last of a budget at the same moment, the second waits for the first and then sees its spend, so
exactly one wins. A token pays once per query id; the user's total counts each query id once, whichever of
their tokens paid. Both totals are capped by the budget of the token in use.

Amounts are NUMERIC in the database and `Decimal` here, so sums of 0.1s stay exact.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import asyncpg

from flowapi.privacy import show as _show

ZERO = Decimal(0)


@dataclass(frozen=True)
class Balance:
    """A token's state after a request: its own total, and what it may still spend (the least of what its
    budget leaves to the token and to its user)."""

    spent: Decimal
    remaining: Decimal
    charged: bool = (
        False  # this request was charged (the first release of this query id to this token)
    )


class BudgetExhausted(Exception):
    def __init__(self, msg: str, balance: Balance) -> None:
        super().__init__(msg)
        self.msg = msg
        self.balance = balance


def _remaining(budget: Decimal, token_spent: Decimal, user_spent: Decimal) -> Decimal:
    return max(ZERO, min(budget - token_spent, budget - user_spent))


def _over_budget(
    epsilon: Decimal, budget: Decimal, token_spent: Decimal, user_spent: Decimal, user_paid: bool
) -> str | None:
    """Why releasing a query spending `epsilon` to this token would exceed `budget` (None if it would not)."""
    over_token = token_spent + epsilon > budget
    if not over_token and (user_paid or user_spent + epsilon <= budget):
        return None
    left = _remaining(budget, token_spent, user_spent)
    return (
        f"Privacy budget exhausted: this query spends epsilon {_show(epsilon)}, and only "
        f"{_show(left)} of the budget of {_show(budget)} is left"
        + (" to this token." if over_token else " to this user, across their tokens.")
    )


class Ledger:
    """Reads and debits the ledger; holds no state of its own beyond the pool it is given."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def balance(self, *, token_id: str, user: str, budget: Decimal) -> Balance:
        """What a token has spent and may still spend (nothing recorded yet: 0 and its budget)."""
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(
                """SELECT (SELECT spent FROM privacy.token_spend WHERE jti = $1) AS token_spent,
                          (SELECT spent FROM privacy.user_spend WHERE sub = $2) AS user_spent""",
                token_id,
                user,
            )
        token_spent = row["token_spent"] or ZERO
        user_spent = row["user_spent"] or ZERO
        return Balance(token_spent, _remaining(budget, token_spent, user_spent))

    async def refusal(
        self, *, token_id: str, user: str, query_id: str, epsilon: Decimal, budget: Decimal
    ) -> str | None:
        """Why the first get of `query_id` would be refused for lack of budget, as things stand (None when it
        would not be, or when this token has it already). A reading, not a reservation: `charge` decides."""
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(
                """SELECT (SELECT spent FROM privacy.token_spend WHERE jti = $1) AS token_spent,
                          (SELECT spent FROM privacy.user_spend WHERE sub = $2) AS user_spent,
                          EXISTS (SELECT 1 FROM privacy.charges WHERE jti = $1 AND query_id = $3)
                              AS token_paid,
                          EXISTS (SELECT 1 FROM privacy.charges WHERE sub = $2 AND query_id = $3)
                              AS user_paid""",
                token_id,
                user,
                query_id,
            )
        if row["token_paid"]:
            return None
        return _over_budget(
            epsilon, budget, row["token_spent"] or ZERO, row["user_spent"] or ZERO, row["user_paid"]
        )

    async def charge(
        self,
        *,
        token_id: str,
        user: str,
        query_id: str,
        epsilon: Decimal,
        budget: Decimal,
        expires: dt.datetime | None = None,
    ) -> Balance:
        """Record that `query_id`'s result (spending `epsilon`) is released to the token `token_id` of `user`.

        Free when this token has had it already. BudgetExhausted (nothing recorded) when it would take the
        token's or the user's total over `budget`."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO privacy.user_spend (sub) VALUES ($1) ON CONFLICT (sub) DO NOTHING",
                user,
            )
            user_spent: Decimal = await conn.fetchval(
                "SELECT spent FROM privacy.user_spend WHERE sub = $1 FOR UPDATE", user
            )
            await conn.execute(
                """INSERT INTO privacy.token_spend (jti, sub, budget, expires) VALUES ($1, $2, $3, $4)
                   ON CONFLICT (jti) DO NOTHING""",
                token_id,
                user,
                budget,
                expires,
            )
            token = await conn.fetchrow(
                "SELECT sub, spent FROM privacy.token_spend WHERE jti = $1 FOR UPDATE", token_id
            )
            token_spent: Decimal = token["spent"]
            if token["sub"] != user:  # a jti is one token's: never let it stand for someone else
                raise BudgetExhausted(
                    "Privacy budget exhausted: this token id is recorded for another user.",
                    Balance(token_spent, ZERO),
                )
            if await conn.fetchval(
                "SELECT 1 FROM privacy.charges WHERE jti = $1 AND query_id = $2",
                token_id,
                query_id,
            ):
                return Balance(token_spent, _remaining(budget, token_spent, user_spent))
            user_paid = await conn.fetchval(
                "SELECT 1 FROM privacy.charges WHERE sub = $1 AND query_id = $2 LIMIT 1",
                user,
                query_id,
            )
            new_token = token_spent + epsilon
            new_user = user_spent if user_paid else user_spent + epsilon
            problem = _over_budget(epsilon, budget, token_spent, user_spent, bool(user_paid))
            if problem is not None:
                raise BudgetExhausted(
                    problem, Balance(token_spent, _remaining(budget, token_spent, user_spent))
                )
            await conn.execute(
                """INSERT INTO privacy.charges (jti, query_id, sub, epsilon) VALUES ($1, $2, $3, $4)""",
                token_id,
                query_id,
                user,
                epsilon,
            )
            await conn.execute(
                "UPDATE privacy.token_spend SET spent = $2 WHERE jti = $1", token_id, new_token
            )
            await conn.execute(
                "UPDATE privacy.user_spend SET spent = $2, updated = now() WHERE sub = $1",
                user,
                new_user,
            )
        return Balance(new_token, _remaining(budget, new_token, new_user), charged=True)
