"""Storing the dependencies of answered queries while the server has nothing else to compute.

A server answers a query first, with its unstored dependencies inlined into one statement
(`cache.compute_answer`), and hands the query to `IdleStores`, whose one thread then stores those dependencies
(daily locations, metrics...) one at a time, deepest first, for later queries to reuse: only while `busy()`
says no query of this server is computing, so stored intermediates never delay an answer someone waits for.

A dependency that fails or is cancelled here is logged and skipped: it is only a cache. Stores still waiting
when the server stops are dropped (nothing is lost but time: the next query needing them inlines them again).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

from flowmachine.core.cache_compute import compute_one
from flowmachine.core.cache_plan import storable_dependencies
from flowmachine.core.errors import FlowMachineError
from flowmachine.core.state import QueryState

if TYPE_CHECKING:
    from flowmachine.core.context import Context
    from flowmachine.core.query import Query

log = logging.getLogger(__name__)


class IdleStores:
    """A queue of queries whose dependencies are stored in idle time by one thread (started on first use)."""

    def __init__(self, ctx: Context, busy: Callable[[], bool], *, max_queued: int = 1000) -> None:
        self._ctx = ctx
        self._busy = busy
        self._max_queued = max_queued
        self._pending: OrderedDict[str, Query] = OrderedDict()
        self._wake = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._storing = False

    def add(self, query: Query) -> None:
        """Store `query`'s unstored dependencies once the server is idle (oldest requests dropped past the cap)."""
        with self._wake:
            if self._stopping:
                return
            self._pending[query.query_id] = query
            while len(self._pending) > self._max_queued:
                self._pending.popitem(last=False)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="flowmachine-idle-stores", daemon=True
                )
                self._thread.start()
            self._wake.notify_all()

    def nudge(self) -> None:
        """Tell the thread that the server may have become idle."""
        with self._wake:
            self._wake.notify_all()

    def idle(self) -> bool:
        """True when nothing is queued or being stored."""
        with self._wake:
            return not self._pending and not self._storing

    def stop(self, timeout: float = 60) -> None:
        """Drop what is queued and wait (up to `timeout`) for a store under way to finish."""
        with self._wake:
            self._stopping = True
            self._pending.clear()
            self._wake.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                log.warning("an idle-time store was still running when the server stopped")

    # the thread -----------------------------------------------------------------------------------------

    def _next_dependency(self) -> Query | None:
        """The next dependency to store, once idle (None when stopping)."""
        with self._wake:
            while True:
                if self._stopping:
                    return None
                if self._pending and not self._busy():
                    query_id, query = next(iter(self._pending.items()))
                    todo = [
                        dep
                        for dep in storable_dependencies(query)
                        if self._ctx.states.state(dep.query_id) is not QueryState.COMPLETED
                    ]
                    if todo:
                        self._storing = True
                        return todo[0]
                    del self._pending[query_id]
                    continue
                # `busy` is this server's own bookkeeping: nudge() wakes us when it changes; the timeout only
                # guards against a missed nudge.
                self._wake.wait(timeout=1.0)

    def _loop(self) -> None:
        while (dep := self._next_dependency()) is not None:
            try:
                compute_one(self._ctx, dep)
            except FlowMachineError as exc:
                log.info("left %s unstored: %s", dep.query_id, exc)
                self._skip(dep)
            except Exception:  # a cache only: never let one failure stop the thread
                log.exception("storing %s in idle time failed", dep.query_id)
                self._skip(dep)
            finally:
                with self._wake:
                    self._storing = False

    def _skip(self, dep: Query) -> None:
        """Drop every queued query that needs `dep` (it failed or was cancelled: it will not be stored)."""
        with self._wake:
            for query_id, query in list(self._pending.items()):
                if any(d.query_id == dep.query_id for d in storable_dependencies(query)):
                    del self._pending[query_id]
