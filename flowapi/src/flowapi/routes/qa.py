"""Outcomes of the ETL's quality-assurance checks (reference/protocol.md §1.6), scope `get_qa_checks`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from quart import Blueprint, Response, request

from flowapi.access_checks import authenticate, require
from flowapi.errors import APIError
from flowapi.permissions import GET_QA_CHECKS
from flowapi.request_record import request_id
from flowapi.responses import json_response
from flowapi.state import state
from flowkit_protocol.payloads import QaCheckList, QaChecks

bp = Blueprint("qa", __name__)


def _date(name: str, value: str | None) -> str:
    if value is None:
        raise APIError(400, f"Missing query parameter '{name}'.", status="bad request")
    try:
        return dt.datetime.strptime(value, "%Y-%m-%d").date().isoformat()
    except ValueError:
        raise APIError(
            400, f"Could not parse {name} '{value}' as a date (YYYY-MM-DD).", status="bad request"
        ) from None


async def _checks(cdr_type: str, check_id: str, start: str, end: str) -> list[dict[str, Any]]:
    reply = await state().flowmachine.get_qa_checks(
        cdr_type=cdr_type,
        check_type=check_id,
        start_date=start,
        end_date=end,
        request_id=request_id(),
    )
    if not reply.ok and reply.payload.get("refused"):
        # a server releasing only differentially private results does not serve exact outcomes
        raise APIError(403, reply.msg, outcome="refused")
    checks = QaChecks.from_payload(reply.payload).qa_checks
    if not reply.ok or checks is None:
        raise APIError(500, reply.msg or "Could not get the qa checks.")
    return checks


@bp.route("/qa/")
async def list_qa_checks() -> Response:
    require(authenticate(), [GET_QA_CHECKS])
    reply = await state().flowmachine.list_qa_checks(request_id=request_id())
    checks = QaCheckList.from_payload(reply.payload).available_qa_checks
    if not reply.ok or checks is None:
        raise APIError(500, reply.msg or "Could not list the qa checks.")
    return json_response(checks, 200)


@bp.route("/qa/<cdr_type>/<check_id>")
async def get_qa_checks(cdr_type: str, check_id: str) -> Response:
    require(authenticate(), [GET_QA_CHECKS])
    start = _date("start_date", request.args.get("start_date"))
    end = _date("end_date", request.args.get("end_date"))
    checks = await _checks(cdr_type, check_id, start, end)
    if not checks:
        raise APIError(
            404,
            f"No qa checks found for '{check_id}' on {cdr_type} between {start} and {end}.",
            status="not found",
        )
    return json_response(checks, 200)


@bp.route("/qa/<cdr_type>/<check_id>/<check_date>")
async def get_qa_check_outcome(cdr_type: str, check_id: str, check_date: str) -> Response:
    require(authenticate(), [GET_QA_CHECKS])
    day = _date("check_date", check_date)
    checks = await _checks(cdr_type, check_id, day, day)
    if not checks:
        raise APIError(
            404,
            f"No qa checks found for '{check_id}' on {cdr_type} on {day}.",
            status="not found",
        )
    return Response(str(checks[0].get("outcome", "")), status=200, mimetype="text/html")
