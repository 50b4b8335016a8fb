"""What the server does for each action: `ACTION_HANDLERS` maps an action name to its handler.

A handler takes the `ServerContext` and the request's `params` as keyword arguments and returns a `ZMQReply`.
Handlers block (FlowDB, Redis), so the server runs them on its own thread pool; computing a query is handed on
to the FlowMachine context's executor and never waited for, so run_query replies at once.

The 14 actions of FlowKit 1.34, plus `cancel_query` (ours, for FlowAPI's DELETE route).
"""

from __future__ import annotations

import datetime as dt
import inspect
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, wait
from dataclasses import dataclass, field
from typing import Any

from marshmallow import Schema, ValidationError
from psycopg import sql
from psycopg_pool import PoolTimeout

# compute_dependencies: the dependency phase of compute, level by level and side by side, run on its own so
# that a failure there can be told apart from a failure of the query itself.
from flowmachine.core.cache import (
    adopt_cached,
    cancel,
    compute,
    compute_dependencies,
    dependencies_before_answer,
    invalidate,
    prepare_answer,
    storable_dependencies,
)
from flowmachine.core.context import Context
from flowmachine.core.errors import QueryCancelledError, QueryFailedError
from flowmachine.core.orphans import terminate_orphaned_backends
from flowmachine.core.query import Query
from flowmachine.core.server.idle_stores import IdleStores
from flowmachine.core.server.messages import (
    Progress,
    ZMQReply,
    ZMQRequest,
    unavailable_reply,
    unknown_query_reply,
    validation_failed_reply,
    wrong_state_reply,
)
from flowmachine.core.server.openapi import query_schemas_spec
from flowmachine.core.server.query_records import QueryRecords
from flowmachine.core.server.query_schemas.aggregation_unit import AggregationUnitKind
from flowmachine.core.server.query_schemas.base_exposed_query import BaseExposedQuery
from flowmachine.core.server.query_schemas.field_mixins import resolving_query_ids
from flowmachine.core.server.query_schemas.flowmachine_query import FlowmachineQuerySchema
from flowmachine.core.spatial_unit import GeomSpatialUnit, make_spatial_unit
from flowmachine.core.state import IN_FLIGHT, QueryEvent, QueryState
from flowmachine.core.transient import Backoff, is_transient, unavailable_service

log = logging.getLogger(__name__)

Handler = Callable[..., ZMQReply]

# How long an action keeps trying after quick transient failures (a pooled connection FlowDB just closed,
# Redis refusing connections) before it answers "unavailable": well within FlowAPI's wait for a reply
# (FLOWAPI_ZMQ_TIMEOUT, 30 s by default). A PoolTimeout has waited already and is answered at once.
HANDLER_RETRY_SECONDS = 3.0


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

    def load_spec(self, spec: Any) -> BaseExposedQuery:
        """Validate a spec (ValidationError if bad) into its exposed query."""
        with resolving_query_ids(self.query_for_id):
            return FlowmachineQuerySchema().load(spec)

    def query_for_id(self, query_id: str) -> Query | None:
        """The query object of a query id some server was asked to run (None if unknown)."""
        with self._lock:
            if query_id in self._queries:
                self._queries.move_to_end(query_id)
                return self._queries[query_id]
        spec = self.spec(query_id)
        if spec is None:
            return None
        query = self.load_spec(spec)._flowmachine_query_obj
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


# --------------------------------------------------------------------------------------------------------------
# handlers
# --------------------------------------------------------------------------------------------------------------


def ping(server: ServerContext) -> ZMQReply:
    return ZMQReply.success(msg="pong")


def get_available_queries(server: ServerContext) -> ZMQReply:
    return ZMQReply.success({"available_queries": list(FlowmachineQuerySchema.schemas_by_kind())})


def get_query_schemas(server: ServerContext) -> ZMQReply:
    return ZMQReply.success({"query_schemas": query_schemas_spec()})


def _exposed_or_error(server: ServerContext, spec: dict[str, Any]) -> BaseExposedQuery | ZMQReply:
    try:
        return server.load_spec(spec)
    except ValidationError as exc:
        return validation_failed_reply(spec, exc.messages)
    except TypeError as exc:
        return ZMQReply.error(
            "Internal flowmachine server error: could not create query object using query schema. "
            f"The original error was: '{exc}'",
            payload={"params": spec, "orig_error_msg": str(exc)},
        )


def run_query(server: ServerContext, **spec: Any) -> ZMQReply:
    exposed = _exposed_or_error(server, spec)
    if isinstance(exposed, ZMQReply):
        return exposed
    try:
        query = exposed._flowmachine_query_obj
        query_id = query.query_id
    except Exception as exc:
        return ZMQReply.error("Unable to create query object.", payload={"exception": str(exc)})
    server.records.save_spec(query_id, spec)
    server.remember(query)
    info = server.ctx.states.info(query_id)
    if info.state is QueryState.CANCELLED or (
        info.state is QueryState.ERRORED and info.retryable
    ):  # cancelled, or failed while FlowDB or Redis was out of reach: run it again
        server.wait_for_local_run(query_id)
        invalidate(server.ctx, query_id, cascade=False)
    state = server.ctx.states.state(query_id)
    if state is QueryState.KNOWN:
        server.start(query)
    return ZMQReply.success({"query_id": query_id, "progress": server.progress(query).as_dict()})


def _known_query(server: ServerContext, query_id: str) -> tuple[Query, dict[str, Any]] | ZMQReply:
    spec = server.spec(query_id)
    query = server.query_for_id(query_id) if spec is not None else None
    if spec is None or query is None:
        return unknown_query_reply(query_id)
    return query, spec


def poll_query(server: ServerContext, query_id: str) -> ZMQReply:
    known = _known_query(server, query_id)
    if isinstance(known, ZMQReply):
        return known
    query, spec = known
    state = server.state(query_id)
    if state is QueryState.KNOWN or state in IN_FLIGHT:  # a finished query has no run to resume
        server.resume_if_abandoned(query_id)
        state = server.state(query_id)
    # An errored query says why (FlowKit's poll leaves `msg` empty): the database's or validation's one-line
    # description, which names no subscriber.
    why = (server.ctx.states.info(query_id).message or "") if state is QueryState.ERRORED else ""
    return ZMQReply.success(
        {
            "query_id": query_id,
            "query_kind": spec.get("query_kind"),
            "query_state": str(state),
            "progress": server.progress(query).as_dict(),
        },
        msg=why,
    )


def get_query_kind(server: ServerContext, query_id: str) -> ZMQReply:
    spec = server.spec(query_id)
    if spec is None:
        return unknown_query_reply(query_id)
    return ZMQReply.success({"query_id": query_id, "query_kind": spec.get("query_kind")})


def get_query_params(server: ServerContext, query_id: str) -> ZMQReply:
    spec = server.spec(query_id)
    if spec is None:
        return unknown_query_reply(query_id)
    return ZMQReply.success({"query_id": query_id, "query_params": spec})


def get_sql_for_query_result(server: ServerContext, query_id: str) -> ZMQReply:
    known = _known_query(server, query_id)
    if isinstance(known, ZMQReply):
        return known
    query, _ = known
    state = server.state(query_id)
    if state is not QueryState.COMPLETED:
        return wrong_state_reply(query_id, state)
    # FlowKit's exact text; the table name is the query object's own (an md5 hex id), not request input.
    result_sql = "SELECT * FROM " + query.fully_qualified_table_name  # noqa: S608
    return ZMQReply.success({"query_id": query_id, "query_state": str(state), "sql": result_sql})


def _feature_sql(server: ServerContext, body: sql.Composable) -> str:
    with server.ctx.pool.connection() as conn:
        return body.as_string(conn)


def _features(unit: GeomSpatialUnit, rows: sql.Composable) -> sql.Composable:
    """GeoJSON feature rows (`type, id, geometry, properties`) of `rows`, which carry a `geom` column."""
    columns = unit.location_id_columns
    ident = (
        sql.SQL("r.{}::text").format(sql.Identifier(columns[0]))
        if len(columns) == 1
        else sql.SQL("(row_number() OVER ())::text")
    )
    return sql.SQL(
        """SELECT 'Feature' AS type, {ident} AS id, ST_AsGeoJSON(r.geom)::json AS geometry,
                  ((to_jsonb(r) - 'geom')
                   || jsonb_build_object('centroid', ST_AsGeoJSON(ST_Centroid(r.geom))::json))::json
                  AS properties
           FROM ({rows}) r"""
    ).format(ident=ident, rows=rows)


def _no_geography_reply(query_id: str) -> ZMQReply:
    return ZMQReply.error(
        f"Query with id '{query_id}' has no geographic representation.",
        payload={"query_id": query_id, "query_state": str(QueryState.ERRORED)},
    )


def _flows_by_location(query: Query, key: str, geography: sql.Composable) -> sql.Composable:
    """One row per location with a flow out or in: `<key>, outflows, inflows, geom`, where `outflows` maps
    each destination to its value and `inflows` each origin (null when there are none), as FlowKit's
    flows GeoJSON has them."""
    origin, destination = sql.Identifier(f"{key}_from"), sql.Identifier(f"{key}_to")
    return sql.SQL(
        """SELECT coalesce(o.loc, i.loc) AS {key}, o.flows AS outflows, i.flows AS inflows, g.geom
           FROM (SELECT {origin} AS loc, json_object_agg({destination}, value ORDER BY {destination}) AS flows
                 FROM {table} GROUP BY {origin}) o
           FULL JOIN (SELECT {destination} AS loc, json_object_agg({origin}, value ORDER BY {origin}) AS flows
                      FROM {table} GROUP BY {destination}) i ON i.loc = o.loc
           JOIN ({geography}) g ON g.{key} = coalesce(o.loc, i.loc)"""
    ).format(
        key=sql.Identifier(key),
        origin=origin,
        destination=destination,
        table=query.table_identifier,
        geography=geography,
    )


def get_geo_sql_for_query_result(server: ServerContext, query_id: str) -> ZMQReply:
    known = _known_query(server, query_id)
    if isinstance(known, ZMQReply):
        return known
    query, spec = known
    state = server.state(query_id)
    if state is not QueryState.COMPLETED:
        return wrong_state_reply(query_id, state)
    unit_name = getattr(server.load_spec(spec), "aggregation_unit", None)
    unit = make_spatial_unit(unit_name) if unit_name else None
    if not isinstance(unit, GeomSpatialUnit):
        return _no_geography_reply(query_id)
    keys = unit.location_id_columns
    if set(keys) <= set(query.column_names):
        result_cols = [c for c in query.column_names if c != "geom"]
        joined = sql.SQL(
            "SELECT {cols}, g.geom FROM {table} r JOIN ({geo}) g USING ({keys})"
        ).format(
            cols=sql.SQL(", ").join(sql.Identifier("r", c) for c in result_cols),
            table=query.table_identifier,
            geo=unit.geography_query(server.ctx),
            keys=sql.SQL(", ").join(map(sql.Identifier, keys)),
        )
    elif len(keys) == 1 and query.column_names == [f"{keys[0]}_from", f"{keys[0]}_to", "value"]:
        joined = _flows_by_location(query, keys[0], unit.geography_query(server.ctx))
    else:
        return _no_geography_reply(query_id)
    return ZMQReply.success(
        {
            "query_id": query_id,
            "query_state": str(state),
            "aggregation_unit": unit_name,
            "sql": _feature_sql(server, _features(unit, joined)),
        }
    )


class _GeographyParams(Schema):
    aggregation_unit = AggregationUnitKind(required=True)


def get_geography(server: ServerContext, aggregation_unit: Any = None) -> ZMQReply:
    try:
        params = _GeographyParams().load({"aggregation_unit": aggregation_unit})
    except ValidationError as exc:
        return ZMQReply.error("Parameter validation failed.", payload=exc.messages)
    unit = make_spatial_unit(params["aggregation_unit"])
    if not isinstance(
        unit, GeomSpatialUnit
    ):  # every API unit has a geography; kept for the type checker
        return ZMQReply.error(f"{unit.name} has no geography.")
    body = _features(unit, unit.geography_query(server.ctx))
    return ZMQReply.success({"query_state": "completed", "sql": _feature_sql(server, body)})


def get_available_dates(server: ServerContext) -> ZMQReply:
    with server.ctx.pool.connection() as conn:
        rows = conn.execute(
            """SELECT cdr_type, array_agg(to_char(cdr_date, 'YYYY-MM-DD') ORDER BY cdr_date)
               FROM etl.available_dates GROUP BY cdr_type ORDER BY cdr_type"""
        ).fetchall()
    return ZMQReply.success({cdr_type: dates for cdr_type, dates in rows})


def get_aggregation_unit(server: ServerContext, **spec: Any) -> ZMQReply:
    exposed = _exposed_or_error(server, spec)
    if isinstance(exposed, ZMQReply):
        return exposed
    unit = getattr(exposed, "aggregation_unit", None)
    return ZMQReply.success({"aggregation_unit": None if unit is None else str(unit)})


def list_qa_checks(server: ServerContext) -> ZMQReply:
    with server.ctx.pool.connection() as conn:
        rows = conn.execute(
            """SELECT DISTINCT cdr_type, type_of_query_or_check FROM etl.deduped_post_etl_queries
               ORDER BY cdr_type, type_of_query_or_check"""
        ).fetchall()
    checks = [{"cdr_type": t, "type_of_query_or_check": c} for t, c in rows]
    return ZMQReply.success({"available_qa_checks": checks})


def get_qa_checks(
    server: ServerContext, cdr_type: str, start_date: str, end_date: str, check_type: str
) -> ZMQReply:
    try:
        start, end = dt.date.fromisoformat(start_date), dt.date.fromisoformat(end_date)
    except (TypeError, ValueError) as exc:
        return ZMQReply.error("Parameter validation failed.", payload={"dates": [str(exc)]})
    with server.ctx.pool.connection() as conn:
        rows = conn.execute(
            """SELECT outcome, to_char(cdr_date, 'YYYY-MM-DD'), type_of_query_or_check
               FROM etl.deduped_post_etl_queries
               WHERE cdr_type = %s AND type_of_query_or_check = %s AND cdr_date BETWEEN %s AND %s
               ORDER BY cdr_date""",
            (cdr_type, check_type, start, end),
        ).fetchall()
    checks = [
        {"outcome": outcome, "cdr_date": date, "type_of_query_or_check": kind}
        for outcome, date, kind in rows
    ]
    return ZMQReply.success({"qa_checks": checks})


def cancel_query(server: ServerContext, query_id: str) -> ZMQReply:
    """Ours, not FlowKit's: stop a queued or running query (nothing of it is kept)."""
    if server.spec(query_id) is None:
        return unknown_query_reply(query_id)
    cancelled = cancel(server.ctx, query_id)
    state = server.state(query_id)
    if not cancelled and state in (QueryState.QUEUED, QueryState.EXECUTING):
        if server.ctx.states.state(query_id) is QueryState.KNOWN:
            # taken for running, its dependencies under way: queue it so it can be cancelled; the run
            # stops before the next level of dependencies and never computes the query itself
            server.ctx.states.trigger(query_id, QueryEvent.QUEUE, owner=server.ctx.owner)
        cancelled = cancel(server.ctx, query_id)  # (or it moved on between our reads)
        state = server.state(query_id)
    return ZMQReply.success(
        {"query_id": query_id, "query_state": str(state), "cancelled": cancelled}
    )


ACTION_HANDLERS: dict[str, Handler] = {
    "ping": ping,
    "get_available_queries": get_available_queries,
    "get_query_schemas": get_query_schemas,
    "run_query": run_query,
    "poll_query": poll_query,
    "get_query_kind": get_query_kind,
    "get_query_params": get_query_params,
    "get_sql_for_query_result": get_sql_for_query_result,
    "get_geo_sql_for_query_result": get_geo_sql_for_query_result,
    "get_geography": get_geography,
    "get_available_dates": get_available_dates,
    "get_aggregation_unit": get_aggregation_unit,
    "list_qa_checks": list_qa_checks,
    "get_qa_checks": get_qa_checks,
    "cancel_query": cancel_query,
}


def perform_action(server: ServerContext, request: ZMQRequest) -> ZMQReply:
    """Run the request's handler; any failure becomes an error reply (the server never crashes on a request)."""
    handler = ACTION_HANDLERS[request.action]
    try:
        inspect.signature(handler).bind(server, **request.params)
    except TypeError:
        return ZMQReply.error(
            "Internal flowmachine server error: wrong arguments passed to handler for action "
            f"'{request.action}'."
        )
    # A transient failure (a connection FlowDB closed, a restart under way) is tried again for a moment:
    # handlers only read or do what is idempotent. Longer than that, FlowAPI's own timeout would answer.
    backoff = Backoff(HANDLER_RETRY_SECONDS, first=0.05, longest=0.5)
    while True:
        try:
            return handler(server, **request.params)
        except Exception as exc:
            if (
                unavailable_service(exc) is None
                or isinstance(exc, PoolTimeout)
                or not backoff.pause(exc, request.action)
            ):
                failure = exc
                break
    service = unavailable_service(failure)
    if service is not None:
        # FlowDB or Redis is out of reach: FlowAPI answers 503 with Retry-After
        log.warning(
            "action %s (request %s): %s unavailable: %s",
            request.action,
            request.request_id,
            service,
            failure,
        )
        return unavailable_reply(service)
    log.error(
        "action %s (request %s) failed",
        request.action,
        request.request_id,
        exc_info=(type(failure), failure, failure.__traceback__),
    )
    return ZMQReply.error("Could not get reply for message")
