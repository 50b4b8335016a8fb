"""Geography and available dates (reference/protocol.md §1.4, §1.5)."""

from __future__ import annotations

from quart import Blueprint, Response, g

from flowapi.access_checks import authenticate, require
from flowapi.errors import APIError, bad_request
from flowapi.permissions import GET_AVAILABLE_DATES, GET_RESULT, geography_scopes
from flowapi.request_record import request_id
from flowapi.responses import json_response
from flowapi.result_files import open_rows, streamed
from flowapi.state import state
from flowkit_protocol import QueryState
from flowkit_protocol.payloads import AvailableDates, GeographySql

bp = Blueprint("geography", __name__)


@bp.route("/geography/<aggregation_unit>")
async def get_geography(aggregation_unit: str) -> Response:
    user = authenticate()
    require(user, [GET_RESULT], geography_scopes(aggregation_unit))
    reply = await state().flowmachine.get_geography(aggregation_unit, request_id=request_id())
    if not reply.ok:
        if reply.msg.startswith("Parameter validation failed"):
            raise bad_request(reply.msg, payload=reply.payload)
        raise APIError(500, reply.msg or "Internal server error", status="Error")
    sql = GeographySql.from_payload(reply.payload).sql
    if reply.query_state is not QueryState.COMPLETED or sql is None:
        raise APIError(500, "No query state.", status="Error")
    rows = await open_rows(sql, "geojson", what=f"geography '{aggregation_unit}'")
    g.outcome = "streamed"
    return await streamed(
        rows,
        "geojson",
        f"{aggregation_unit}.geojson",
        additional={"type": "FeatureCollection"},
        result_name="features",
    )


@bp.route("/available_dates")
async def get_available_dates() -> Response:
    user = authenticate()
    require(user, [GET_AVAILABLE_DATES])
    reply = await state().flowmachine.get_available_dates(request_id=request_id())
    if not reply.ok:
        raise APIError(500, reply.msg or "Could not get the available dates.")
    return json_response({"available_dates": AvailableDates.from_payload(reply.payload).dates}, 200)
