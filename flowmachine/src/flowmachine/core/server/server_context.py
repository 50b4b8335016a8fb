"""The server's shared state for handlers (`ServerContext`): the FlowMachine context, the query records, and
this process's bookkeeping of the queries it knows and runs (starting, resuming and progress of a query)."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from concurrent.futures import Future, wait
from dataclasses import dataclass, field
from typing import Any

from marshmallow import ValidationError

from flowkit_protocol import Progress
from flowmachine.core.cache import (
    adopt_cached,
    compute,
    compute_dependencies,
    dependencies_before_answer,
    prepare_answer,
    storable_dependencies,
)
from flowmachine.core.context import Context
from flowmachine.core.custom_geography import checking_geography
from flowmachine.core.errors import QueryCancelledError, QueryFailedError
from flowmachine.core.orphans import terminate_orphaned_backends
from flowmachine.core.query import Query
from flowmachine.core.server.dp_schemas import root_schema
from flowmachine.core.server.idle_stores import IdleStores
from flowmachine.core.server.query_records import QueryRecords
from flowmachine.core.server.query_schemas.base_exposed_query import BaseExposedQuery
from flowmachine.core.server.query_schemas.field_mixins import resolving_query_ids
from flowmachine.core.server.query_schemas.flowmachine_query import FlowmachineQuerySchema
from flowmachine.core.state import IN_FLIGHT, QueryEvent, QueryState
from flowmachine.core.transient import Backoff, is_transient

log = logging.getLogger(__name__)


@dataclass
class ServerContext:
    """What handlers share: the FlowMachine context, the query records, and this process's bookkeeping."""

    ctx: Context
    store_dependencies: bool = True
    # FlowKit's order: every dependency stored before the query. By default the query is answered first, its
    # unstored dependencies inlined, and they are stored afterwards while the server is idle (ADR 7).
    dependencies_first: bool = False
    records: QueryRecords = field(init=False)
    idle_stores: IdleStores = field(init=False)
    _queries: OrderedDict[str, Query] = field(init=False, default_factory=OrderedDict)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)
    _running: dict[str, Future[Query]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.records = QueryRecords(self.ctx.states, self.ctx.pool)
        self.idle_stores = IdleStores(self.ctx, busy=lambda: bool(self._running))

    def close(self) -> None:
        """Stop storing dependencies in idle time (a store under way finishes)."""
        self.idle_stores.stop()

    # specs → query objects -------------------------------------------------------------------------------

    @property
    def root_schema(self) -> type[FlowmachineQuerySchema]:
        """The schema specs are loaded with: FlowKit's, or only the differentially private kinds (with
        `epsilon`) when FLOWMACHINE_RELEASE_MODE is differential_privacy."""
        return root_schema(self.ctx.settings)

    def load_spec(self, spec: Any) -> BaseExposedQuery:
        """Validate a spec (ValidationError if bad) into its exposed query; custom geography (layers, mapping
        and geom tables) is checked against FlowDB's catalogue."""
        with resolving_query_ids(self.query_for_id), checking_geography(self.ctx):
            return self.root_schema().load(spec)

    def query_for_id(self, query_id: str) -> Query | None:
        """The query object of a query id some server was asked to run (None if unknown)."""
        with self._lock:
            if query_id in self._queries:
                self._queries.move_to_end(query_id)
                return self._queries[query_id]
        spec = self.spec(query_id)
        if spec is None:
            return None
        try:
            query = self.load_spec(spec)._flowmachine_query_obj
        except ValidationError:
            # run under the other release mode (FLOWMACHINE_RELEASE_MODE): not a query this server serves
            log.warning("query %s's spec is not valid in this server's release mode", query_id)
            return None
        self.remember(query)
        return query

    def spec(self, query_id: str) -> dict[str, Any] | None:
        """The spec `query_id` was submitted with (None if no server here was ever asked to run it).

        Redis keeps it; if Redis lost it (restarted without persistence, flushed), FlowDB's copy is put back
        and the query's state rebuilt: completed if its result is in the cache, else it is run again (it was
        asked for, and whatever ran it was lost with Redis)."""
        spec = self.records.spec(query_id)
        if spec is not None:
            return spec
        spec = self.records.restore(query_id)
        if spec is None:
            return None
        log.warning("query %s was missing from Redis: restored from FlowDB", query_id)
        query = self.load_spec(spec)._flowmachine_query_obj
        self.remember(query)
        if self.ctx.states.state(query_id) is QueryState.KNOWN and not adopt_cached(
            self.ctx, query
        ):
            self.start(query)
        return spec

    def remember(self, query: Query) -> None:
        with self._lock:
            self._queries[query.query_id] = query
            while len(self._queries) > 1000:
                self._queries.popitem(last=False)

    # state --------------------------------------------------------------------------------------------------

    def state(self, query_id: str) -> QueryState:
        """The query's state; a query taken for running whose dependencies come first reads as queued."""
        state = self.ctx.states.state(query_id)
        if state is QueryState.KNOWN:
            with self._lock:
                running_here = query_id in self._running
            if running_here or self.records.is_submitted(query_id):
                return QueryState.QUEUED
        return state

    def progress(self, query: Query) -> Progress:
        """Counts over the query and the dependencies computed before it (every stored one in FlowKit's order)."""
        if not self.store_dependencies:
            before: list[Query] = []
        elif self.dependencies_first:
            before = storable_dependencies(query)
        else:
            before = dependencies_before_answer(query)
        ids = [query.query_id, *(dep.query_id for dep in before)]
        pipe = self.ctx.redis.pipeline(transaction=False)
        for query_id in ids:
            pipe.hget(self.ctx.states.key(query_id), "state")
        states = [QueryState(raw.decode()) if raw else QueryState.KNOWN for raw in pipe.execute()]
        pending = [s for s in states if s is not QueryState.COMPLETED]
        return Progress(
            eligible=len(pending),
            queued=sum(s is QueryState.QUEUED for s in pending),
            running=sum(s is QueryState.EXECUTING for s in pending),
        )

    # running -------------------------------------------------------------------------------------------------

    def start(self, query: Query) -> None:
        """Compute `query` on the context's executor unless some live process is already on it."""
        query_id = query.query_id
        with self._lock:
            if query_id in self._running:
                return
            if not self.records.mark_submitted(query_id, self.ctx.owner):
                return
            future = self.ctx.executor.submit(self._run, query)
            self._running[query_id] = future
        future.add_done_callback(lambda _: self._forget_run(query_id))

    def resume_if_abandoned(self, query_id: str) -> bool:
        """Start again a query whose run a process took and died with (its lease lapsed), so that a crash
        mid-query costs the analyst time, not a failed poll; the statements the dead process left running
        are stopped first. True if it was started here."""
        states = self.ctx.states
        if states.state(query_id) in IN_FLIGHT:
            states.repair(query_id)  # back to known if its owner is dead
        if states.state(query_id) is not QueryState.KNOWN or not self.records.abandoned(query_id):
            return False
        query = self.query_for_id(query_id)
        if query is None:
            return False
        log.warning("query %s was abandoned by a process that died: running it again", query_id)
        terminate_orphaned_backends(self.ctx)
        self.start(query)
        return True

    def resume_abandoned(self) -> list[str]:
        """At start-up: put back the specs of cached results Redis lost, stop the statements dead processes
        left running, and `resume_if_abandoned` every query some process has a claim on."""
        restored = self.records.restore_cached()
        if restored:
            log.warning("restored %d query specs from FlowDB (Redis had lost them)", restored)
        terminate_orphaned_backends(self.ctx)
        return [qid for qid in self.records.claimed_ids() if self.resume_if_abandoned(qid)]

    def _run(self, query: Query) -> Query:
        """Dependencies first (while the query itself is still known, it reads as queued), then the query: by
        default only those `prepare_answer` needs, the others stored once the server is idle. Tried again
        while FlowDB or Redis is out of reach (each query it computes is too, see `cache._compute_one`)."""
        query_id, owner = query.query_id, self.ctx.owner
        backoff = Backoff(self.ctx.settings.transient_retry_seconds)
        try:
            while True:
                try:
                    self.records.reclaim(query_id, owner)
                    return self._run_once(query)
                except Exception as exc:
                    if not is_transient(exc) or not backoff.pause(exc, f"running {query_id}"):
                        raise
        finally:
            self._clear_claim(query_id, backoff)

    def _run_once(self, query: Query) -> Query:
        query_id, states, owner = query.query_id, self.ctx.states, self.ctx.owner

        def cancelled() -> bool:
            return states.state(query_id) is QueryState.CANCELLED

        if self.store_dependencies:
            try:
                if self.dependencies_first:
                    compute_dependencies(self.ctx, query, stop_if=cancelled)
                else:
                    prepare_answer(self.ctx, query, stop_if=cancelled)
            except Exception as exc:
                if is_transient(exc):
                    raise
                log.info("a dependency of query %s did not complete: %s", query_id, exc)
                # Say so in the query's own state (unless another process has taken it on meanwhile).
                queued, _ = states.trigger(query_id, QueryEvent.QUEUE, owner=owner)
                if queued and isinstance(exc, QueryCancelledError):
                    states.trigger(query_id, QueryEvent.CANCEL)
                elif queued:
                    retryable = isinstance(exc, QueryFailedError) and exc.retryable
                    states.trigger(
                        query_id, QueryEvent.ERROR, message=str(exc), retryable=retryable
                    )
                raise
        answered = compute(self.ctx, query, store_dependencies=False)
        if self.store_dependencies and not self.dependencies_first:
            self.idle_stores.add(query)
        return answered

    def _clear_claim(self, query_id: str, backoff: Backoff) -> None:
        """Drop this process's claim on the run (tried again while Redis is out of reach: a claim left
        behind would make a finished query read as queued while this process lives)."""
        while True:
            try:
                self.records.clear_submitted(query_id, self.ctx.owner)
                return
            except Exception as exc:
                if not is_transient(exc) or not backoff.pause(exc, f"finishing {query_id}"):
                    log.warning("could not clear the claim on %s: %s", query_id, exc)
                    return

    def _forget_run(self, query_id: str) -> None:
        with self._lock:
            self._running.pop(query_id, None)
        self.idle_stores.nudge()

    def wait_for_local_run(self, query_id: str, timeout: float = 30) -> None:
        """Let this process's run of `query_id` (if any) unwind, e.g. after it was cancelled."""
        with self._lock:
            future = self._running.get(query_id)
        if future is not None:
            wait([future], timeout=timeout)
