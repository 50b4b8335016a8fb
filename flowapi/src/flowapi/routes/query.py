"""Running, polling, fetching and cancelling queries (reference/protocol.md §1.1–1.3, plus our DELETE)."""

from __future__ import annotations

from decimal import Decimal

from quart import Blueprint, Response, g

from flowapi.access_checks import authenticate, require, require_query_access
from flowapi.errors import APIError, bad_request, not_found
from flowapi.permissions import GET_RESULT, RUN, geography_scopes
from flowapi.privacy import spec_epsilon
from flowapi.query_specs import query_spec_from_body, stored_spec
from flowapi.request_record import request_id
from flowapi.responses import json_response
from flowapi.result_files import CONTENT_TYPES, open_rows, streamed
from flowapi.routes import API_PREFIX
from flowapi.routes.privacy_steps import (
    balance_headers,
    release_headers,
    require_budget,
    require_privacy,
)
from flowapi.state import state
from flowkit_protocol import QueryState
from flowkit_protocol.payloads import Cancellation, GeoResultSql, QueryRun, ResultSql

bp = Blueprint("query", __name__)


@bp.route("/run", methods=["POST"])
async def run_query() -> Response:
    user = authenticate()
    spec = await query_spec_from_body()
    await require_query_access(user, spec, [RUN])
    epsilon = spec_epsilon(spec)
    if epsilon is not None:
        require_privacy(user, epsilon)
    reply = await state().flowmachine.run_query(spec, request_id=request_id())
    run = QueryRun.from_payload(reply.payload)
    query_id = run.query_id
    if not reply.ok or query_id is None:
        raise APIError(400, reply.msg, outcome="rejected", status="Error", payload=reply.payload)
    g.query_id, g.outcome = query_id, "accepted"
    if epsilon is not None:
        await require_budget(user, query_id, epsilon)
    body = {"query_id": query_id, "progress": run.progress.as_dict()}
    extra = await balance_headers(user, epsilon) if epsilon is not None else {}
    return json_response(body, 202, {"Location": f"{API_PREFIX}/poll/{query_id}", **extra})


@bp.route("/poll/<query_id>")
async def poll_query(query_id: str) -> Response:
    user = authenticate()
    spec = await stored_spec(query_id)
    await require_query_access(user, spec, [RUN, GET_RESULT])
    reply = await state().flowmachine.poll_query(query_id, request_id=request_id())
    query_state = reply.query_state
    if not reply.ok:
        if query_state is QueryState.AWOL:
            raise not_found(f"Unknown query id: '{query_id}'")
        raise APIError(500, reply.msg or "Could not poll the query.")
    g.outcome = str(query_state)
    epsilon = spec_epsilon(spec)
    extra = await balance_headers(user, epsilon) if epsilon is not None else {}
    if query_state is QueryState.COMPLETED:
        return json_response(
            {"status": "completed"}, 303, {"Location": f"{API_PREFIX}/get/{query_id}", **extra}
        )
    if query_state in (QueryState.QUEUED, QueryState.EXECUTING):
        body = {"status": str(query_state), "msg": reply.msg, "progress": reply.progress.as_dict()}
        return json_response(body, 202, extra)
    if query_state in (QueryState.ERRORED, QueryState.CANCELLED):
        return json_response({"status": str(query_state), "msg": reply.msg}, 500)
    # known, resetting: nothing to wait for (flowclient runs the query again on 404)
    state_name = str(query_state) if query_state else "unknown"
    return json_response({"status": state_name, "msg": reply.msg}, 404)


@bp.route("/get/<query_ref>")
async def get_query_result(query_ref: str) -> Response:
    """`/get/<id>` (JSON) or `/get/<id>.<json|csv|geojson>`."""
    query_id, _, filetype = query_ref.partition(".")
    filetype = filetype or "json"
    user = authenticate()
    g.query_id = query_id
    if filetype not in CONTENT_TYPES:
        raise bad_request("Invalid file format")
    spec = await stored_spec(query_id)
    await require_query_access(user, spec, [GET_RESULT])
    fm = state().flowmachine
    if filetype == "geojson":
        reply = await fm.get_geo_sql_for_query_result(query_id, request_id=request_id())
    else:
        reply = await fm.get_sql_for_query_result(query_id, request_id=request_id())
    if not reply.ok:
        raise _not_ready(reply.query_state, reply.msg)
    result = (
        GeoResultSql.from_payload(reply.payload)
        if filetype == "geojson"
        else ResultSql.from_payload(reply.payload)
    )
    sql = result.sql
    if sql is None:
        raise APIError(500, "FlowMachine gave no SQL for the result.")
    if isinstance(result, GeoResultSql):
        require(user, [GET_RESULT], geography_scopes(str(result.aggregation_unit)))
    epsilon = Decimal(str(result.epsilon)) if result.epsilon is not None else None
    extra: dict[str, str] = {}
    if epsilon is not None:
        # Charged before the rows are opened, so a request never holds two pooled connections at once. A
        # result gone meanwhile (404) stays paid for: flowclient runs the query again, to the same query id
        # and the same stored noisy answer, which this token then gets free.
        extra = await release_headers(user, query_id, epsilon)
    rows = await open_rows(sql, filetype, what=f"query '{query_id}'")
    g.outcome = "streamed"
    if filetype == "geojson":
        response = await streamed(
            rows,
            "geojson",
            f"{query_id}.geojson",
            additional={"type": "FeatureCollection"},
            result_name="features",
        )
    else:
        response = await streamed(
            rows, filetype, f"{query_id}.{filetype}", additional={"query_id": query_id}
        )
    response.headers.update(extra)
    return response


def _not_ready(query_state: QueryState | None, msg: str) -> APIError | _Accepted:
    if query_state in (QueryState.QUEUED, QueryState.EXECUTING):
        return _Accepted()
    if query_state is QueryState.ERRORED:
        return APIError(403, msg, outcome="errored", status="Error")
    if query_state in (
        QueryState.AWOL,
        QueryState.KNOWN,
        QueryState.CANCELLED,
        QueryState.RESETTING,
    ):
        return APIError(404, msg, outcome=str(query_state), status="Error")
    if query_state is None:
        return APIError(500, msg)
    return APIError(500, f"Unexpected query state: {query_state}", status="Error")


class _Accepted(APIError):
    """Not an error: the result is still being computed (FlowKit answers 202 with `{}`)."""

    def __init__(self) -> None:
        super().__init__(202, "", outcome="not_ready")
        self.body = {}


@bp.route("/query/<query_id>", methods=["DELETE"])
async def cancel_query(query_id: str) -> Response:
    """Ours: stop a queued or running query. Needs `run` and the query's scopes in one role."""
    user = authenticate()
    spec = await stored_spec(query_id)
    await require_query_access(user, spec, [RUN])
    reply = await state().flowmachine.cancel_query(query_id, request_id=request_id())
    if not reply.ok:
        if reply.query_state is QueryState.AWOL:
            raise not_found(f"Unknown query id: '{query_id}'")
        raise APIError(500, reply.msg or "Could not cancel the query.")
    cancellation = Cancellation.from_payload(reply.payload)
    g.outcome = "cancelled" if cancellation.cancelled else "not_cancelled"
    body = {
        "query_id": query_id,
        "query_state": str(cancellation.query_state),
        "cancelled": cancellation.cancelled,
    }
    return json_response(body, 200)
