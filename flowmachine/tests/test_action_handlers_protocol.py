"""The server's handlers and flowkit_protocol agree: one handler per protocol action, each taking exactly the
params its protocol type declares (so FlowAPI's `QueryIdParams`, `GeographyParams`, ... fit the handler)."""

import dataclasses
import inspect

from flowkit_protocol import Action
from flowkit_protocol.payloads import ACTION_PAYLOADS
from flowmachine.core.server.action_handlers import ACTION_HANDLERS


def test_one_handler_per_action_keyed_by_the_enum():
    assert set(ACTION_HANDLERS) == set(Action)
    assert all(isinstance(action, Action) for action in ACTION_HANDLERS)


def test_handler_parameters_are_the_protocol_params():
    for action, handler in ACTION_HANDLERS.items():
        params_type, _ = ACTION_PAYLOADS[action]
        parameters = list(inspect.signature(handler).parameters.values())[1:]  # after the server
        if params_type is None:
            assert parameters == [], action
        elif params_type is dict:  # a query spec, whatever its keys
            assert [p.kind for p in parameters] == [inspect.Parameter.VAR_KEYWORD], action
        else:
            fields = {f.name for f in dataclasses.fields(params_type)}
            assert {p.name for p in parameters} == fields, action
