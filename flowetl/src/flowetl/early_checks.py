"""FlowKit's default QA checks of a day, computed on a second connection while the loader indexes the day.

Once `add_constraints` (and `cluster`) are done the extract table holds exactly the rows the partition will
hold; the indexes and ANALYZE only add to it. The default checks (flowdb.qa, one statement, mostly one
process) then run beside CREATE INDEX (which takes a SHARE lock, compatible with reading) and use the core the
index build leaves idle. The `qa_checks` step, after the attach, records them with the user's checks; they are
recorded only if the day is attached, as before. The attach renames the table, so it waits for the checks
first (`wait`). A failure here costs nothing: the `qa_checks` step computes the defaults itself.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading

import psycopg

from flowdb.qa.combined import default_outcomes
from flowetl import tables

log = logging.getLogger(__name__)


def second_connection(conn: psycopg.Connection) -> psycopg.Connection:
    """Another autocommit connection with `conn`'s role and target."""
    return psycopg.connect(
        conn.info.dsn,
        password=conn.info.password,
        autocommit=True,
        application_name="flowetl-qa",
    )


class EarlyDefaultChecks:
    """The default checks of `etl.extract_<table>`, computing in a thread of their own from construction."""

    def __init__(self, conn: psycopg.Connection, cdr_type: str, day: dt.date) -> None:
        self._cdr_type = cdr_type
        self._day = day
        self._outcomes: dict[str, str | None] | None = None
        self._other: psycopg.Connection | None = None
        self._lock = threading.Lock()
        self._cancelled = False
        self._thread = threading.Thread(
            target=self._run, args=(conn,), name=f"flowetl-qa-{cdr_type}-{day}", daemon=True
        )
        self._thread.start()

    def _run(self, conn: psycopg.Connection) -> None:
        try:
            with second_connection(conn) as other:
                with self._lock:
                    if self._cancelled:
                        return
                    self._other = other
                self._outcomes = default_outcomes(
                    other,
                    self._cdr_type,
                    self._day,
                    table=tables.extract(self._cdr_type, self._day),
                )
        except psycopg.Error as exc:
            if not self._cancelled:
                log.warning("early QA checks of %s %s failed: %s", self._cdr_type, self._day, exc)
        finally:
            with self._lock:
                self._other = None

    def wait(self) -> dict[str, str | None] | None:
        """The outcomes, once computed (None if they could not be)."""
        self._thread.join()
        return self._outcomes

    def cancel(self) -> None:
        """Stop the checks (the load failed) and wait until their connection lets go of the table."""
        with self._lock:
            self._cancelled = True
            if self._other is not None:
                self._other.cancel_safe()
        self._thread.join()
        self._outcomes = None
