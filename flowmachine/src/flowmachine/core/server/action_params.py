"""A request's `params` read once into its action's typed params (`flowkit_protocol.payloads`), or the error
reply FlowKit 1.34 gives for them.

- ping, get_available_queries, get_query_schemas, get_available_dates, list_qa_checks: no params (None);
- run_query, get_aggregation_unit: the query spec, a `dict` (the handler validates it);
- the query id actions: `QueryIdParams`; get_geography: `GeographyParams` (its unit validated: one of the API's
  aggregation units); get_qa_checks: `QaChecksParams` (its dates validated: ISO dates).

A param missing or unexpected gets "wrong arguments passed to handler" (FlowKit's reply when the params do not
fit the handler); a bad aggregation unit or date gets "Parameter validation failed.", as FlowKit's handlers
answer. A query id, CDR type or check type that is not a string gets the "wrong arguments" reply too (FlowKit's
handlers fail on it with "Could not get reply for message", see docs/compatibility.md).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from marshmallow import Schema, ValidationError

from flowkit_protocol import Action, Reply
from flowkit_protocol.payloads import (
    ACTION_PAYLOADS,
    GeographyParams,
    ParamsError,
    QaChecksParams,
    QueryIdParams,
    QuerySpec,
)
from flowmachine.core.server.query_schemas.aggregation_unit import AggregationUnitKind

__all__ = ["ActionParams", "parse_params", "wrong_arguments_reply"]

# What a handler receives after the server context: one of these, as its action's entry in
# `flowkit_protocol.payloads.ACTION_PAYLOADS` says.
ActionParams = None | QuerySpec | QueryIdParams | GeographyParams | QaChecksParams


def wrong_arguments_reply(action: Action) -> Reply:
    return Reply.error(
        "Internal flowmachine server error: wrong arguments passed to handler for action "
        f"'{action}'."
    )


class _GeographyParamsSchema(Schema):
    aggregation_unit = AggregationUnitKind(required=True)


def _geography(params: dict[str, Any]) -> GeographyParams | Reply | None:
    if set(params) - {"aggregation_unit"}:
        return None
    try:  # a missing unit is validated as null, as FlowKit's handler (its parameter defaults to None) does
        loaded = _GeographyParamsSchema().load({"aggregation_unit": params.get("aggregation_unit")})
    except ValidationError as exc:
        return Reply.error("Parameter validation failed.", payload=exc.normalized_messages())
    return GeographyParams(loaded["aggregation_unit"])


def _invalid_dates(start_date: Any, end_date: Any) -> Reply | None:
    """The reply for dates (as received) that are not ISO dates, else None."""
    try:
        dt.date.fromisoformat(start_date)
        dt.date.fromisoformat(end_date)
    except (TypeError, ValueError) as exc:
        return Reply.error("Parameter validation failed.", payload={"dates": [str(exc)]})
    return None


def _qa_checks(params: dict[str, Any]) -> QaChecksParams | Reply | None:
    try:
        checks = QaChecksParams.from_params(params)
    except ParamsError as exc:
        if exc.param is None:  # a param missing or unexpected
            return None
        return _invalid_dates(params["start_date"], params["end_date"])
    return _invalid_dates(checks.start_date, checks.end_date) or checks


def parse_params(action: Action, params: dict[str, Any]) -> ActionParams | Reply:
    """`params` as `action`'s handler takes them, or the error reply to send instead."""
    params_type, _ = ACTION_PAYLOADS[action]
    parsed: ActionParams | Reply | None
    if params_type is None:
        parsed = None if not params else wrong_arguments_reply(action)
    elif params_type is dict:
        parsed = dict(params)
    elif params_type is GeographyParams:
        parsed = _geography(params) or wrong_arguments_reply(action)
    elif params_type is QaChecksParams:
        parsed = _qa_checks(params) or wrong_arguments_reply(action)
    elif params_type is QueryIdParams:
        try:
            parsed = QueryIdParams.from_params(params)
        except ParamsError:
            parsed = wrong_arguments_reply(action)
    else:  # a new params type in flowkit_protocol needs its reading here
        raise TypeError(f"no reading of {params_type!r} params for action {action}")
    return parsed
