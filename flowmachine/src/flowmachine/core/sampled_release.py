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


def refuse_sampled(*inputs: Query, kind: str) -> None:
    """Refuse a sample anywhere in `inputs`, for a kind with no sound per-key check of it (see the module)."""
    if any(_contains_sample(q) for q in inputs):
        raise InvalidSpecError(
            f"{kind} cannot be computed over a random sample: with no per-key count of subscribers to "
            "compare with the unsampled input, its release minus the unsampled one would describe the "
            "subscribers the sample leaves out. Ask for it without `sampling`."
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


def publish_keys_where_sample_leaves_out_none_or_many(
    sampled: sql.Composable,
    sampled_counts: sql.Composable,
    unsampled_counts: sql.Composable,
    keys: Sequence[str],
    counts: Sequence[str],
    *,
    parts: Sequence[str] = (),
) -> sql.Composable:
    """The rows of `sampled` (the redacted release over the sample, with the columns `keys…`) whose key's
    subscriber counts each differ by 0 or more than 15 between `sampled_counts` and `unsampled_counts`
    (`keys…, parts…, counts…`, unredacted, over the sample and over the unsampled input). `parts` split a key
    (e.g. into labels): every part of a key must pass, parts only one side has counting as 0 on the other.
    Keys are matched by grouping (NULL matches NULL), then the release's rows by `IS NOT DISTINCT FROM`."""
    KP = sql.SQL(", ").join(sql.Identifier(c) for c in [*keys, *parts])
    K = sql.SQL(", ").join(sql.Identifier(k) for k in keys)

    def side(mine: str) -> sql.Composable:
        return sql.SQL(", ").join(
            sql.SQL("{} AS {}").format(
                sql.Identifier(c) if prefix == mine else sql.SQL("0::bigint"),
                sql.Identifier(f"{prefix}_{c}"),
            )
            for prefix in ("s", "u")
            for c in counts
        )

    sums = sql.SQL(", ").join(
        sql.SQL("sum({c}) AS {c}").format(c=sql.Identifier(f"{prefix}_{c}"))
        for prefix in ("s", "u")
        for c in counts
    )
    rules = sql.SQL(" AND ").join(
        differs_by_none_or_many(sql.Identifier(f"u_{c}"), sql.Identifier(f"s_{c}")) for c in counts
    )
    same_key = sql.SQL(" AND ").join(
        sql.SQL("o.{k} IS NOT DISTINCT FROM k.{k}").format(k=sql.Identifier(k)) for k in keys
    )
    return sql.SQL(
        "SELECT o.* FROM ({sampled}) o WHERE EXISTS ("
        "SELECT 1 FROM ("
        "SELECT {K} FROM ("
        "SELECT {KP}, {sums} FROM ("
        "SELECT {KP}, {s_side} FROM ({s}) s UNION ALL SELECT {KP}, {u_side} FROM ({u}) u"
        ") x GROUP BY {KP}"
        ") p GROUP BY {K} HAVING bool_and({rules})"
        ") k WHERE {same_key})"
    ).format(
        sampled=sampled,
        K=K,
        KP=KP,
        sums=sums,
        s_side=side("s"),
        u_side=side("u"),
        s=sampled_counts,
        u=unsampled_counts,
        rules=rules,
        same_key=same_key,
    )
