"""What the server does for each action: `ACTION_HANDLERS` maps each `flowkit_protocol.Action` to its handler.

A handler takes the `ServerContext` and the request's params, read once by `action_params.parse_params` into
the action's typed params (`QueryIdParams`, `GeographyParams`, `QaChecksParams`, a query spec `dict`, or None),
and returns a `Reply`, its payload built by the action's typed payload (`flowkit_protocol.payloads`). Handlers
block (FlowDB, Redis), so the server runs them on its own thread pool; computing a query is handed on to the
FlowMachine context's executor and never waited for, so run_query replies at once.

The 14 actions of FlowKit 1.34, plus `cancel_query` (ours, for FlowAPI's DELETE route).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from marshmallow import ValidationError
from psycopg import sql
from psycopg_pool import PoolTimeout

from flowkit_protocol import Action, Reply, unavailable_reply
from flowkit_protocol.envelope import (
    unknown_query_reply,
    validation_failed_reply,
    wrong_state_reply,
)
from flowkit_protocol.payloads import (
    AggregationUnit,
    AvailableDates,
    AvailableQueries,
    Cancellation,
    GeographyParams,
    GeographySql,
    GeoResultSql,
    QaCheckList,
    QaChecks,
    QaChecksParams,
    QueryIdParams,
    QueryKind,
    QueryParams,
    QueryPoll,
    QueryRun,
    QuerySchemas,
    QuerySpec,
    ResultSql,
)
from flowmachine.core.cache import cancel, invalidate
from flowmachine.core.custom_geography import check_unit_now, result_unit, with_layer_units
from flowmachine.core.dp.queries import release_epsilon
from flowmachine.core.errors import InvalidSpecError
from flowmachine.core.query import Query
from flowmachine.core.server.action_params import ActionParams, parse_params
from flowmachine.core.server.messages import ZMQRequest
from flowmachine.core.server.openapi import query_schemas_spec
from flowmachine.core.server.query_schemas.base_exposed_query import BaseExposedQuery
from flowmachine.core.server.server_context import ServerContext
from flowmachine.core.spatial_unit import GeomSpatialUnit, loaded_layers, make_spatial_unit
from flowmachine.core.state import IN_FLIGHT, QueryEvent, QueryState
from flowmachine.core.transient import Backoff, unavailable_service

__all__ = ["ACTION_HANDLERS", "HANDLER_RETRY_SECONDS", "ServerContext", "perform_action"]

log = logging.getLogger(__name__)

# Each handler's second parameter is annotated with its action's params type (flowkit_protocol.payloads.
# ACTION_PAYLOADS; test_action_handlers_protocol checks them), which parse_params produces for that action; the
# table holds handlers of different params types, so it says Any.
Handler = Callable[[ServerContext, Any], Reply]

# How long an action keeps trying after quick transient failures (a pooled connection FlowDB just closed,
# Redis refusing connections) before it answers "unavailable": well within FlowAPI's wait for a reply
# (FLOWAPI_ZMQ_TIMEOUT, 30 s by default). A PoolTimeout has waited already and is answered at once.
HANDLER_RETRY_SECONDS = 3.0


# --------------------------------------------------------------------------------------------------------------
# handlers
# --------------------------------------------------------------------------------------------------------------


def ping(server: ServerContext, params: None) -> Reply:
    return Reply.success(msg="pong")


def get_available_queries(server: ServerContext, params: None) -> Reply:
    return Reply.success(AvailableQueries(list(server.root_schema.schemas_by_kind())).as_payload())


def get_query_schemas(server: ServerContext, params: None) -> Reply:
    # each loaded polygon layer is one more aggregation unit (FlowAPI publishes its scopes)
    schemas = with_layer_units(query_schemas_spec(server.root_schema), loaded_layers(server.ctx))
    return Reply.success(QuerySchemas(schemas).as_payload())


def _exposed_or_error(server: ServerContext, spec: dict[str, Any]) -> BaseExposedQuery | Reply:
    try:
        return server.load_spec(spec)
    except ValidationError as exc:
        return validation_failed_reply(spec, exc.messages)
    except TypeError as exc:
        return Reply.error(
            "Internal flowmachine server error: could not create query object using query schema. "
            f"The original error was: '{exc}'",
            payload={"params": spec, "orig_error_msg": str(exc)},
        )


def run_query(server: ServerContext, spec: QuerySpec) -> Reply:
    exposed = _exposed_or_error(server, spec)
    if isinstance(exposed, Reply):
        return exposed
    try:
        query = exposed._flowmachine_query_obj
        query_id = query.query_id
    except Exception as exc:
        return Reply.error("Unable to create query object.", payload={"exception": str(exc)})
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
    return Reply.success(QueryRun(query_id, server.progress(query)).as_payload())


def _known_query(server: ServerContext, query_id: str) -> tuple[Query, dict[str, Any]] | Reply:
    spec = server.spec(query_id)
    query = server.query_for_id(query_id) if spec is not None else None
    if spec is None or query is None:
        return unknown_query_reply(query_id)
    return query, spec


def poll_query(server: ServerContext, params: QueryIdParams) -> Reply:
    query_id = params.query_id
    known = _known_query(server, query_id)
    if isinstance(known, Reply):
        return known
    query, spec = known
    state = server.state(query_id)
    if state is QueryState.KNOWN or state in IN_FLIGHT:  # a finished query has no run to resume
        server.resume_if_abandoned(query_id)
        state = server.state(query_id)
    # An errored query says why (FlowKit's poll leaves `msg` empty): the database's or validation's one-line
    # description, which names no subscriber.
    why = (server.ctx.states.info(query_id).message or "") if state is QueryState.ERRORED else ""
    poll = QueryPoll(query_id, spec.get("query_kind"), str(state), server.progress(query))
    return Reply.success(poll.as_payload(), msg=why)


def get_query_kind(server: ServerContext, params: QueryIdParams) -> Reply:
    query_id = params.query_id
    spec = server.spec(query_id)
    if spec is None:
        return unknown_query_reply(query_id)
    return Reply.success(QueryKind(query_id, spec.get("query_kind")).as_payload())


def get_query_params(server: ServerContext, params: QueryIdParams) -> Reply:
    query_id = params.query_id
    spec = server.spec(query_id)
    if spec is None:
        return unknown_query_reply(query_id)
    return Reply.success(QueryParams(query_id, spec).as_payload())


def get_sql_for_query_result(server: ServerContext, params: QueryIdParams) -> Reply:
    query_id = params.query_id
    known = _known_query(server, query_id)
    if isinstance(known, Reply):
        return known
    query, _ = known
    state = server.state(query_id)
    if state is not QueryState.COMPLETED:
        return wrong_state_reply(query_id, state)
    # FlowKit's exact text; the table name is the query object's own (an md5 hex id), not request input.
    result_sql = "SELECT * FROM " + query.fully_qualified_table_name  # noqa: S608
    # a differentially private release names the epsilon it spends (FlowAPI charges it)
    epsilon = release_epsilon(query)
    return Reply.success(ResultSql(query_id, str(state), result_sql, epsilon=epsilon).as_payload())


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


def _no_geography_reply(query_id: str) -> Reply:
    return Reply.error(
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


def get_geo_sql_for_query_result(server: ServerContext, params: QueryIdParams) -> Reply:
    query_id = params.query_id
    known = _known_query(server, query_id)
    if isinstance(known, Reply):
        return known
    query, spec = known
    state = server.state(query_id)
    if state is not QueryState.COMPLETED:
        return wrong_state_reply(query_id, state)
    unit_name = getattr(server.load_spec(spec), "aggregation_unit", None)
    unit = result_unit(query, str(unit_name)) if unit_name else None
    if not isinstance(unit, GeomSpatialUnit):
        return _no_geography_reply(query_id)
    keys = unit.location_id_columns
    joined: sql.Composable
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
    features_sql = _feature_sql(server, _features(unit, joined))
    geo = GeoResultSql(
        query_id, str(state), unit_name, features_sql, epsilon=release_epsilon(query)
    )
    return Reply.success(geo.as_payload())


def get_geography(server: ServerContext, params: GeographyParams) -> Reply:
    # one of the API's units (action_params validated it); a polygon layer must be loaded
    unit = make_spatial_unit(params.aggregation_unit)
    try:
        check_unit_now(server.ctx, unit)
    except InvalidSpecError as exc:  # FlowAPI answers a validation failure with 400
        return validation_failed_reply(
            {"aggregation_unit": params.aggregation_unit}, {"aggregation_unit": [str(exc)]}
        )
    if not isinstance(
        unit, GeomSpatialUnit
    ):  # every API unit has a geography; kept for the type checker
        return Reply.error(f"{unit.name} has no geography.")
    body = _features(unit, unit.geography_query(server.ctx))
    return Reply.success(
        GeographySql(str(QueryState.COMPLETED), _feature_sql(server, body)).as_payload()
    )


def get_available_dates(server: ServerContext, params: None) -> Reply:
    with server.ctx.pool.connection() as conn:
        rows = conn.execute(
            """SELECT cdr_type, array_agg(to_char(cdr_date, 'YYYY-MM-DD') ORDER BY cdr_date)
               FROM etl.available_dates GROUP BY cdr_type ORDER BY cdr_type"""
        ).fetchall()
    return Reply.success(AvailableDates({cdr_type: dates for cdr_type, dates in rows}).as_payload())


def get_aggregation_unit(server: ServerContext, spec: QuerySpec) -> Reply:
    exposed = _exposed_or_error(server, spec)
    if isinstance(exposed, Reply):
        return exposed
    unit = getattr(exposed, "aggregation_unit", None)
    return Reply.success(AggregationUnit(None if unit is None else str(unit)).as_payload())


def list_qa_checks(server: ServerContext, params: None) -> Reply:
    with server.ctx.pool.connection() as conn:
        rows = conn.execute(
            """SELECT DISTINCT cdr_type, type_of_query_or_check FROM etl.deduped_post_etl_queries
               ORDER BY cdr_type, type_of_query_or_check"""
        ).fetchall()
    checks = [{"cdr_type": t, "type_of_query_or_check": c} for t, c in rows]
    return Reply.success(QaCheckList(checks).as_payload())


# QA outcomes are exact: a day's subscriber and event counts, single events' durations and times. A server in
# differential-privacy mode releases nothing exact outside the privacy budget, so it does not serve them (their
# names are still listed); `refused` tells FlowAPI to answer 403, not a server error.
QA_REFUSED = (
    "This server releases only differentially private results: QA check outcomes are exact (a day's "
    "counts of subscribers and events, single events' durations and times) and are not served in this mode."
)


def get_qa_checks(server: ServerContext, params: QaChecksParams) -> Reply:
    if server.ctx.settings.differential_privacy:
        return Reply.error(QA_REFUSED, {"refused": "differential_privacy"})
    # ISO dates (action_params validated them)
    start, end = dt.date.fromisoformat(params.start_date), dt.date.fromisoformat(params.end_date)
    with server.ctx.pool.connection() as conn:
        rows = conn.execute(
            """SELECT outcome, to_char(cdr_date, 'YYYY-MM-DD'), type_of_query_or_check
               FROM etl.deduped_post_etl_queries
               WHERE cdr_type = %s AND type_of_query_or_check = %s AND cdr_date BETWEEN %s AND %s
               ORDER BY cdr_date""",
            (params.cdr_type, params.check_type, start, end),
        ).fetchall()
    checks = [
        {"outcome": outcome, "cdr_date": date, "type_of_query_or_check": kind}
        for outcome, date, kind in rows
    ]
    return Reply.success(QaChecks(checks).as_payload())


def cancel_query(server: ServerContext, params: QueryIdParams) -> Reply:
    """Ours, not FlowKit's: stop a queued or running query (nothing of it is kept)."""
    query_id = params.query_id
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
    return Reply.success(Cancellation(query_id, str(state), cancelled).as_payload())


ACTION_HANDLERS: dict[Action, Handler] = {
    Action.PING: ping,
    Action.GET_AVAILABLE_QUERIES: get_available_queries,
    Action.GET_QUERY_SCHEMAS: get_query_schemas,
    Action.RUN_QUERY: run_query,
    Action.POLL_QUERY: poll_query,
    Action.GET_QUERY_KIND: get_query_kind,
    Action.GET_QUERY_PARAMS: get_query_params,
    Action.GET_SQL_FOR_QUERY_RESULT: get_sql_for_query_result,
    Action.GET_GEO_SQL_FOR_QUERY_RESULT: get_geo_sql_for_query_result,
    Action.GET_GEOGRAPHY: get_geography,
    Action.GET_AVAILABLE_DATES: get_available_dates,
    Action.GET_AGGREGATION_UNIT: get_aggregation_unit,
    Action.LIST_QA_CHECKS: list_qa_checks,
    Action.GET_QA_CHECKS: get_qa_checks,
    Action.CANCEL_QUERY: cancel_query,
}


def perform_action(server: ServerContext, request: ZMQRequest) -> Reply:
    """Read the request's params into its action's params type and run its handler on them; any failure
    becomes an error reply (the server never crashes on a request)."""
    handler = ACTION_HANDLERS[request.action]
    params: ActionParams | Reply = parse_params(request.action, request.params)
    if isinstance(params, Reply):
        return params
    # A transient failure (a connection FlowDB closed, a restart under way) is tried again for a moment:
    # handlers only read or do what is idempotent. Longer than that, FlowAPI's own timeout would answer.
    backoff = Backoff(HANDLER_RETRY_SECONDS, first=0.05, longest=0.5)
    while True:
        try:
            return handler(server, params)
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
    return Reply.error("Could not get reply for message")
