"""The server's handlers and flowkit_protocol agree: one handler per protocol action, each taking its action's
params type (`QueryIdParams`, `GeographyParams`, ... a query spec, or None), which the server reads each
request's params into before calling it."""

import inspect
import typing

import pytest

from flowkit_protocol import Action, Reply
from flowkit_protocol.payloads import (
    ACTION_PAYLOADS,
    GeographyParams,
    QaChecksParams,
    QueryIdParams,
    QuerySpec,
)
from flowmachine.core.server import action_handlers
from flowmachine.core.server.action_handlers import ACTION_HANDLERS
from flowmachine.core.server.action_params import parse_params

# A request's params for each action, as FlowAPI sends them.
GOOD_PARAMS = {
    **{action: {} for action, (params_type, _) in ACTION_PAYLOADS.items() if params_type is None},
    **{
        action: {"query_id": "abc"}
        for action, (params_type, _) in ACTION_PAYLOADS.items()
        if params_type is QueryIdParams
    },
    Action.RUN_QUERY: {"query_kind": "geography", "aggregation_unit": "admin1"},
    Action.GET_AGGREGATION_UNIT: {"query_kind": "geography", "aggregation_unit": "admin1"},
    Action.GET_GEOGRAPHY: {"aggregation_unit": "admin1"},
    Action.GET_QA_CHECKS: {
        "cdr_type": "calls",
        "check_type": "count_msisdns",
        "start_date": "2016-01-01",
        "end_date": "2016-01-02",
    },
}


def test_one_handler_per_action_keyed_by_the_enum():
    assert set(ACTION_HANDLERS) == set(Action)
    assert all(isinstance(action, Action) for action in ACTION_HANDLERS)


@pytest.mark.parametrize("action", list(Action))
def test_each_handler_takes_its_actions_params_type(action):
    handler = ACTION_HANDLERS[action]
    parameters = list(inspect.signature(handler).parameters.values())
    assert [p.kind for p in parameters] == [inspect.Parameter.POSITIONAL_OR_KEYWORD] * 2, action
    hints = typing.get_type_hints(handler, vars(action_handlers))
    params_type, _ = ACTION_PAYLOADS[action]
    expected = {None: type(None), dict: QuerySpec}.get(params_type, params_type)
    assert hints[parameters[1].name] == expected, action
    # ... and the server reads the params FlowAPI sends into exactly that type
    parsed = parse_params(action, GOOD_PARAMS[action])
    if params_type is None:
        assert parsed is None
    else:
        assert isinstance(parsed, typing.get_origin(expected) or expected), action


def test_params_read_into_the_protocol_types():
    assert parse_params(Action.POLL_QUERY, {"query_id": "q"}) == QueryIdParams("q")
    assert parse_params(Action.GET_GEOGRAPHY, {"aggregation_unit": "admin2"}) == GeographyParams(
        "admin2"
    )
    qa = GOOD_PARAMS[Action.GET_QA_CHECKS]
    assert parse_params(Action.GET_QA_CHECKS, qa) == QaChecksParams(**qa)
    spec = GOOD_PARAMS[Action.RUN_QUERY]
    parsed = parse_params(Action.RUN_QUERY, spec)
    assert (
        parsed == spec and parsed is not spec
    )  # the handler gets its own copy, as `**spec` gave it


def _wrong(action):
    return {
        "status": "error",
        "msg": "Internal flowmachine server error: wrong arguments passed to handler for action "
        f"'{action}'.",
        "payload": {},
    }


def _invalid(payload):
    return {"status": "error", "msg": "Parameter validation failed.", "payload": payload}


@pytest.mark.parametrize(
    "action,params,reply",
    [
        (Action.PING, {"colour": "blue"}, _wrong("ping")),
        (Action.GET_AVAILABLE_DATES, {"x": 1}, _wrong("get_available_dates")),
        (Action.POLL_QUERY, {}, _wrong("poll_query")),
        (Action.CANCEL_QUERY, {"query_id": "q", "y": 1}, _wrong("cancel_query")),
        # not a string: FlowKit's handler fails on it ("Could not get reply for message")
        (Action.GET_QUERY_KIND, {"query_id": 5}, _wrong("get_query_kind")),
        (Action.GET_GEOGRAPHY, {"aggregation_unit": "admin1", "z": 1}, _wrong("get_geography")),
        # a missing unit is validated as null (FlowKit's handler defaults it to None)
        (Action.GET_GEOGRAPHY, {}, _invalid({"aggregation_unit": ["Field may not be null."]})),
        (
            Action.GET_GEOGRAPHY,
            {"aggregation_unit": 5},
            _invalid({"aggregation_unit": ["Not a valid string."]}),
        ),
        (Action.GET_GEOGRAPHY, {"aggregation_unit": "admin7"}, None),
        (
            Action.GET_QA_CHECKS,
            {**GOOD_PARAMS[Action.GET_QA_CHECKS], "x": 1},
            _wrong("get_qa_checks"),
        ),
        (
            Action.GET_QA_CHECKS,
            {"cdr_type": "calls", "check_type": "x", "start_date": "2016-01-01"},
            _wrong("get_qa_checks"),
        ),
        (
            Action.GET_QA_CHECKS,
            {**GOOD_PARAMS[Action.GET_QA_CHECKS], "cdr_type": 5},
            _wrong("get_qa_checks"),
        ),
        (
            Action.GET_QA_CHECKS,
            {**GOOD_PARAMS[Action.GET_QA_CHECKS], "start_date": 5},
            _invalid({"dates": ["fromisoformat: argument must be str"]}),
        ),
        (
            Action.GET_QA_CHECKS,
            {**GOOD_PARAMS[Action.GET_QA_CHECKS], "end_date": "soon"},
            _invalid({"dates": ["Invalid isoformat string: 'soon'"]}),
        ),
    ],
)
def test_params_that_do_not_fit_get_flowkits_error_replies(action, params, reply):
    parsed = parse_params(action, params)
    assert isinstance(parsed, Reply)
    got = {"status": str(parsed.status), "msg": parsed.msg, "payload": parsed.payload}
    if reply is None:  # a unit that is not one of the API's: marshmallow's OneOf message
        assert got["msg"] == "Parameter validation failed." and list(got["payload"]) == [
            "aggregation_unit"
        ]
    else:
        assert got == reply
