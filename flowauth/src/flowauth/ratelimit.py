"""Rate counters kept in the database (`rate_counter`): how often something happened, per subject, in a window.

A counter's window starts at its first hit and lasts `window_seconds`; the first hit after it ends starts a new
window. Each hit is one atomic statement (INSERT ... ON CONFLICT DO UPDATE ... RETURNING), so concurrent requests
(threads of one worker, several workers, several hosts sharing the database) each get a distinct count and exactly
`limit` hits pass per window. Every function commits the session it is given at once, so call them before the
request changes anything else. SQLite and PostgreSQL only (both have that statement).

    MINT = Limit("mint-user", limit=60, window_seconds=3600)
    wait = hit(session, MINT, "42")      # 0: allowed (and counted); else seconds until the window ends
    give_back(session, MINT, "42")       # it did not count after all (e.g. the request was refused)
    clear(session, MINT, "42")           # start afresh (returns the hits forgotten)
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Table, case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from flowauth.models import RateCounter, utcnow

MAX_SUBJECT_LENGTH = 128

# the Table itself (a declarative class's `__table__` is typed as any FromClause)
_table: Table = RateCounter.metadata.tables[RateCounter.__tablename__]


@dataclass(frozen=True)
class Limit:
    """At most `limit` hits per `window_seconds` in `bucket`; a limit of 0 turns it off."""

    bucket: str
    limit: int
    window_seconds: int

    @property
    def off(self) -> bool:
        return self.limit <= 0 or self.window_seconds <= 0


def _subject(value: str) -> str:
    return value[:MAX_SUBJECT_LENGTH]


def _upsert(
    session: Session,
) -> Callable[[Table], postgresql.Insert] | Callable[[Table], sqlite.Insert]:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert
    if dialect == "sqlite":
        return sqlite.insert
    raise NotImplementedError(f"rate counters need SQLite or PostgreSQL, not {dialect}")


def _wait(window_start: dt.datetime, limit: Limit, now: dt.datetime) -> int:
    ends = window_start + dt.timedelta(seconds=limit.window_seconds)
    return max(1, math.ceil((ends - now).total_seconds()))


def hit(session: Session, limit: Limit, subject: str, now: dt.datetime | None = None) -> int:
    """Count one hit for `subject`: 0 if it is within the limit, else the seconds until the window ends."""
    if limit.off:
        return 0
    now = now or utcnow()
    cutoff = now - dt.timedelta(seconds=limit.window_seconds)
    ended = _table.c.window_start <= cutoff
    statement = (
        _upsert(session)(_table)
        .values(bucket=limit.bucket, subject=_subject(subject), window_start=now, hits=1)
        .on_conflict_do_update(
            index_elements=[_table.c.bucket, _table.c.subject],
            set_={
                "hits": case((ended, 1), else_=_table.c.hits + 1),
                "window_start": case((ended, now), else_=_table.c.window_start),
            },
        )
        .returning(_table.c.hits, _table.c.window_start)
    )
    hits, window_start = session.execute(statement).one()
    session.commit()
    _prune(session, limit, cutoff)
    return 0 if hits <= limit.limit else _wait(window_start, limit, now)


def _prune(session: Session, limit: Limit, cutoff: dt.datetime) -> None:
    """Delete the bucket's counters whose window has ended (rows another request holds are skipped, not waited
    for, so two prunes never deadlock)."""
    ended = (
        select(_table.c.subject)
        .where(_table.c.bucket == limit.bucket, _table.c.window_start <= cutoff)
        .with_for_update(skip_locked=True)
    )
    session.execute(
        delete(_table).where(_table.c.bucket == limit.bucket, _table.c.subject.in_(ended))
    )
    session.commit()


def give_back(session: Session, limit: Limit, subject: str, hits: int = 1) -> None:
    """Take back `hits` hits of `subject` (never below 0)."""
    if limit.off or hits <= 0:
        return
    session.execute(
        update(_table)
        .where(
            _table.c.bucket == limit.bucket,
            _table.c.subject == _subject(subject),
            _table.c.hits > 0,
        )
        .values(hits=case((_table.c.hits > hits, _table.c.hits - hits), else_=0))
    )
    session.commit()


def clear(session: Session, limit: Limit, subject: str) -> int:
    """Forget the hits of `subject`; returns how many there were."""
    removed = session.execute(
        delete(_table)
        .where(_table.c.bucket == limit.bucket, _table.c.subject == _subject(subject))
        .returning(_table.c.hits)
    ).scalar_one_or_none()
    session.commit()
    return removed or 0


def seconds_locked(
    session: Session, limit: Limit, subject: str, now: dt.datetime | None = None
) -> int:
    """Without counting a hit: 0 if one more would be allowed now, else the seconds until it would be."""
    if limit.off:
        return 0
    now = now or utcnow()
    row = session.execute(
        select(_table.c.hits, _table.c.window_start).where(
            _table.c.bucket == limit.bucket, _table.c.subject == _subject(subject)
        )
    ).one_or_none()
    if row is None or row.window_start <= now - dt.timedelta(seconds=limit.window_seconds):
        return 0
    return 0 if row.hits < limit.limit else _wait(row.window_start, limit, now)
