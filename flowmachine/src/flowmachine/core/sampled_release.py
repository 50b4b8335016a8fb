"""A count over a random sample is published only where the sample leaves out nobody or more than 15.

An analyst can always ask for the same aggregate without the sample; the difference of the two at a key counts
the subscribers the sample left out there. So a redacted count aggregate whose input is a `RandomSample`
computes, in the same SQL, the unsampled count of each key (unredacted, never published) and publishes a row
only where the two differ by 0 or more than 15 (rule 2 of docs/privacy.md, applied to the sample's complement).
Rows of the sample missing from the unsampled result (possible with outer joins) count as differing by all of
their value.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, TypeVar, cast

from psycopg import sql

from flowmachine.core.errors import InvalidSpecError
from flowmachine.core.random_sample import RandomSample
from flowmachine.core.redaction import REDACTION_THRESHOLD

if TYPE_CHECKING:
    from flowmachine.core.query import Query

NESTED_SAMPLE = (
    "A random sample can be aggregated only as the direct input of a query (a `sampling` section on the "
    "reference location itself), not inside another query's input: the aggregate must compare it with the "
    "unsampled input to redact the subscribers the sample leaves out."
)


Q = TypeVar("Q", bound="Query")


def unsampled(query: Q) -> Q:
    """The query a sample was drawn from, or `query` itself if it is no sample (a sample stands in for the
    query it was drawn from, e.g. as a reference location, so that query has the type the sample is used as)."""
    return cast(Q, query.query) if isinstance(query, RandomSample) else query


def _contains_sample(query: Query, seen: set[str] | None = None) -> bool:
    """Whether `query` is or depends on a `RandomSample` (each shared dependency visited once)."""
    seen = set() if seen is None else seen
    if query.query_id in seen:
        return False
    seen.add(query.query_id)
    return isinstance(query, RandomSample) or any(
        _contains_sample(d, seen) for d in query.dependencies
    )


def is_sampled(*inputs: Query) -> bool:
    """Whether any input is a `RandomSample`; refuses a sample hidden deeper inside an input."""
    if any(_contains_sample(unsampled(q)) for q in inputs):
        raise InvalidSpecError(NESTED_SAMPLE)
    return any(isinstance(q, RandomSample) for q in inputs)


def differs_by_none_or_many(total: sql.Composable, part: sql.Composable) -> sql.Composable:
    """`|total − part|` is 0 or more than 15."""
    return sql.SQL("abs({} - {}) NOT BETWEEN 1 AND {}").format(
        total, part, sql.Literal(REDACTION_THRESHOLD)
    )


def publish_where_sample_leaves_out_none_or_many(
    sampled: sql.Composable,
    unsampled_counts: sql.Composable,
    keys: Sequence[str],
    *,
    compare: Sequence[str] = ("value",),
) -> sql.Composable:
    """`keys…, value`: the rows of `sampled` whose `compare` columns (counts; `value` first) each differ from
    the same keys' in `unsampled_counts` (the same aggregate of the unsampled input, unredacted) by 0 or more
    than 15. Matched by grouping the two together (keys may be NULL, e.g. with outer joins), in one pass."""
    K = sql.SQL(", ").join(sql.Identifier(k) for k in keys)
    s_cols = sql.SQL(", ").join(
        sql.SQL("{} AS {}").format(sql.Identifier(c), sql.Identifier(f"s_{c}")) for c in compare
    )
    s_nulls = sql.SQL(", ").join(
        sql.SQL("NULL::bigint AS {}").format(sql.Identifier(f"s_{c}")) for c in compare
    )
    u_zeros = sql.SQL(", ").join(
        sql.SQL("0::bigint AS {}").format(sql.Identifier(f"u_{c}")) for c in compare
    )
    u_cols = sql.SQL(", ").join(sql.Identifier(c) for c in compare)
    rules = sql.SQL(" AND ").join(
        differs_by_none_or_many(
            sql.SQL("sum({})").format(sql.Identifier(f"u_{c}")),
            sql.SQL("max({})").format(sql.Identifier(f"s_{c}")),
        )
        for c in compare
    )
    return sql.SQL(
        "SELECT {K}, max(s_value) AS value FROM ("
        "SELECT {K}, {s_cols}, {u_zeros} FROM ({sampled}) s "
        "UNION ALL SELECT {K}, {s_nulls}, {u_cols} FROM ({full}) u"
        ") x GROUP BY {K} HAVING count(s_value) > 0 AND {rules}"
    ).format(
        K=K,
        s_cols=s_cols,
        u_zeros=u_zeros,
        s_nulls=s_nulls,
        u_cols=u_cols,
        sampled=sampled,
        full=unsampled_counts,
        rules=rules,
    )
