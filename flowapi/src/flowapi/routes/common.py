"""Steps several routes share: reading a query spec, finding a stored query, checking scopes, streaming."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import asyncpg
from quart import Response, g, request

from flowapi.app import internal_error, request_id, state
from flowapi.auth import User
from flowapi.errors import bad_request, forbidden, not_found
from flowapi.json_body import NotJSON, TooDeep, parse_json
from flowapi.permissions import is_allowed, query_scopes
from flowapi.results import RowStream, stream_csv, stream_json
from flowkit_protocol.payloads import AggregationUnit, QueryParams

CONTENT_TYPES = {
    "json": "application/json",
    "csv": "text/csv",
    "geojson": "application/geo+json",
}


async def query_spec_from_body() -> dict[str, Any]:
    """The JSON object in the request body; 400 in FlowKit's words when it is not one."""
    raw = await request.get_data()  # over MAX_CONTENT_LENGTH: 413 from Quart
    try:
        spec = parse_json(raw, max_depth=state().settings.max_json_depth)
    except TooDeep as exc:
        raise bad_request(
            f"Could not parse query spec: {exc}.", payload={"max_depth": exc.max_depth}
        ) from None
    except NotJSON:
        raise bad_request("Could not parse query spec.") from None
    if not isinstance(spec, dict):
        raise bad_request("Could not parse query spec.")
    if "query_kind" not in spec:
        raise bad_request("Query kind must be specified when running a query.")
    if not isinstance(spec["query_kind"], str):
        raise bad_request("Query kind must be a string.")
    g.query_kind = spec["query_kind"]
    return spec


async def stored_spec(query_id: str) -> dict[str, Any]:
    """The spec a query id was run with; 404 when FlowMachine does not know the id."""
    g.query_id = query_id
    app_state = state()
    spec = app_state.facts.spec(query_id)
    if spec is None:
        reply = await app_state.flowmachine.get_query_params(query_id, request_id=request_id())
        spec = QueryParams.from_payload(reply.payload).query_params
        if not reply.ok or spec is None or not isinstance(spec.get("query_kind"), str):
            raise not_found(f"Unknown query id: '{query_id}'")
        app_state.facts.remember_spec(query_id, spec)
    g.query_kind = spec["query_kind"]
    return spec


async def aggregation_unit(spec: dict[str, Any]) -> str | None:
    """FlowMachine's aggregation unit of the top-level query; 400 when it refuses the spec."""
    app_state = state()
    known, unit = app_state.facts.unit(spec)
    if known:
        return unit
    reply = await app_state.flowmachine.get_aggregation_unit(spec, request_id=request_id())
    if not reply.ok:
        raise bad_request(reply.msg, payload=reply.payload)
    unit = AggregationUnit.from_payload(reply.payload).aggregation_unit
    app_state.facts.remember_unit(spec, unit)
    return unit


def require(user: User, action_scopes: Iterable[str], needed: Iterable[str] = ()) -> None:
    if not is_allowed(user, action_scopes, needed):
        raise forbidden()


async def require_query_access(
    user: User, spec: dict[str, Any], action_scopes: Iterable[str]
) -> str | None:
    """Check the user may do `action_scopes` on the query `spec`; its aggregation unit."""
    unit = await aggregation_unit(spec)
    require(user, action_scopes, query_scopes(spec, unit))
    return unit


async def open_rows(sql: str, filetype: str, *, what: str) -> RowStream:
    """Start reading FlowMachine's SQL for a `filetype` body; a result that vanished meanwhile is a 404."""
    try:
        return await state().results.open(sql, as_json=filetype != "csv")
    except asyncpg.UndefinedTableError:
        raise not_found(f"The result of {what} is no longer available.") from None
    except asyncpg.PostgresError:
        raise internal_error(f"Could not read {what}.") from None


async def streamed(
    rows: RowStream,
    filetype: str,
    filename: str,
    *,
    additional: dict[str, Any] | None = None,
    result_name: str = "query_result",
) -> Response:
    if request.method == "HEAD":  # no body will be read: give the connection back now
        await rows.close()
        response = Response(b"", mimetype=CONTENT_TYPES[filetype])
        response.headers["Content-Disposition"] = f"attachment;filename={filename}"
        return response
    rid = request_id()
    body = (
        stream_csv(rows, request_id=rid)
        if filetype == "csv"
        else stream_json(rows, result_name=result_name, additional=additional or {}, request_id=rid)
    )
    response = Response(body, mimetype=CONTENT_TYPES[filetype])
    response.headers["Content-Disposition"] = f"attachment;filename={filename}"
    response.timeout = None
    return response
