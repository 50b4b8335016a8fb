"""k-anonymity for aggregates: a row is published only if more than 15 subscribers are behind it.

Every top-level aggregate applies this inside its own SQL (one pass, no separate redaction table), counting
the distinct subscribers behind each output row. It can be switched off only in Python (`redact=False`) for
aggregates used as inputs of other aggregates.
"""

from __future__ import annotations

from psycopg import sql

REDACTION_THRESHOLD = 15


def more_than_threshold(subscriber_count: sql.Composable) -> sql.Composable:
    """`<subscriber_count> > 15`."""
    return sql.SQL("{} > {}").format(subscriber_count, sql.Literal(REDACTION_THRESHOLD))


def leaves_out_none_or_many(total: sql.Composable, part: sql.Composable) -> sql.Composable:
    """`<total> − <part>` is 0 or more than 15: a published figure about `part` of a location's `total`
    subscribers (where `total` is published elsewhere) cannot be differenced into a count of 1–15."""
    return sql.SQL("({} - {}) NOT BETWEEN 1 AND {}").format(
        total, part, sql.Literal(REDACTION_THRESHOLD)
    )


def having(redact: bool, subscriber_count: sql.Composable) -> sql.Composable:
    """A `HAVING` clause keeping groups resting on more than 15 subscribers, or nothing if not redacting."""
    if not redact:
        return sql.SQL("")
    return sql.SQL(" HAVING {}").format(more_than_threshold(subscriber_count))
