"""The protocol package: envelope bytes are FlowKit 1.34's, payloads round-trip, the unavailable contract."""

import json
from pathlib import Path

import pytest

from flowkit_protocol import (
    Action,
    MalformedReply,
    Progress,
    QueryState,
    Reply,
    ReplyStatus,
    Request,
    unavailable_reply,
)
from flowkit_protocol.docker_secrets import lookup, read_secret
from flowkit_protocol.envelope import (
    unavailable_payload,
    unknown_query_reply,
    validation_failed_reply,
    wrong_state_reply,
)
from flowkit_protocol.payloads import (
    ACTION_PAYLOADS,
    Cancellation,
    GeographyParams,
    ParamsError,
    QaChecksParams,
    QueryIdParams,
    QueryPoll,
    QueryRun,
    ResultSql,
)


def test_request_bytes():
    request = Request("r1", Action.POLL_QUERY, {"query_id": "abc"})
    assert json.loads(request.to_bytes()) == {
        "request_id": "r1",
        "action": "poll_query",
        "params": {"query_id": "abc"},
    }


def test_reply_round_trip_and_malformed():
    reply = Reply.success({"query_id": "q"}, msg="hi")
    assert reply.to_bytes() == b'{"status": "success", "msg": "hi", "payload": {"query_id": "q"}}'
    assert Reply.from_bytes(reply.to_bytes()) == reply
    assert Reply.from_bytes(b'{"status": "error"}') == Reply(ReplyStatus.ERROR, "", {})
    for bad in (b"nope", b"[]", b'{"status": "maybe"}', b'{"status": "error", "payload": []}'):
        with pytest.raises(MalformedReply):
            Reply.from_bytes(bad)


def test_unavailable_contract():
    reply = unavailable_reply("redis")
    assert reply.payload == {"unavailable": "redis", "retry_after": 5}
    assert unavailable_payload("flowmachine", 9) == {"unavailable": "flowmachine", "retry_after": 9}
    assert not reply.ok and reply.retry_after == 5
    assert Reply.error("x", {"unavailable": "flowdb", "retry_after": 99999}).retry_after == 3600
    assert Reply.error("x", {"unavailable": "flowdb", "retry_after": True}).retry_after == 5
    assert Reply.error("x", {"retry_after": 7}).retry_after is None
    assert Reply.success({"unavailable": "redis"}).retry_after is None


def test_state_replies():
    unknown = unknown_query_reply("q")
    assert unknown.query_state is QueryState.AWOL and unknown.msg == "Unknown query id: 'q'"
    assert wrong_state_reply("q", "queued").msg == "Query with id 'q' is queued."
    assert wrong_state_reply("q", "odd").msg == "Query with id 'q' is odd."
    failed = validation_failed_reply({"a": 1}, {0: ["bad"]})
    assert failed.payload == {"params": {"a": 1}, "validation_error_messages": {"0": ["bad"]}}
    assert failed.msg.startswith("Parameter validation failed.\n\n")


def test_every_action_has_a_payload_type_and_payloads_round_trip():
    assert set(ACTION_PAYLOADS) == set(Action)
    assert Action.parse("run_query") is Action.RUN_QUERY and Action.parse("nope") is None
    run = QueryRun("q", Progress(3, 1, 1))
    assert run.as_payload() == {
        "query_id": "q",
        "progress": {"eligible": 3, "queued": 1, "running": 1},
    }
    assert QueryRun.from_payload(run.as_payload()) == run
    poll = QueryPoll("q", "daily_location", "queued", Progress(1, 1, 0))
    assert list(poll.as_payload()) == ["query_id", "query_kind", "query_state", "progress"]
    assert QueryPoll.from_payload(poll.as_payload()) == poll
    assert ResultSql.from_payload({"sql": 3}) == ResultSql(None, None, None)
    plain = ResultSql("q", "completed", "SELECT 1")
    assert list(plain.as_payload()) == [
        "query_id",
        "query_state",
        "sql",
    ]  # FlowKit's reply, unchanged
    private = ResultSql("q", "completed", "SELECT 1", epsilon=0.5)
    assert (
        private.as_payload()["epsilon"] == 0.5
        and ResultSql.from_payload(private.as_payload()) == private
    )
    for bad in (0, -1, True, "1"):
        assert ResultSql.from_payload({"epsilon": bad}).epsilon is None
    assert Cancellation.from_payload({"cancelled": 1}).cancelled is True
    assert QaChecksParams("calls", "c", "2016-01-01", "2016-01-02").as_params()["check_type"] == "c"


def test_secrets(tmp_path: Path):
    (tmp_path / "A").write_text(" a \n")
    (tmp_path / "EMPTY").write_text("\n")
    assert read_secret("A", tmp_path) == "a" and read_secret("EMPTY", tmp_path) == ""
    assert read_secret("MISSING", tmp_path) is None and read_secret("A", None) is None
    env = {"A": "env", "EMPTY": "env", "MISSING": " m ", "BLANK": " "}
    assert lookup(env, "A", tmp_path) == "a"
    assert lookup(env, "EMPTY", tmp_path) is None  # an empty secret file wins, as None
    assert lookup(env, "MISSING", tmp_path) == "m" and lookup(env, "BLANK", None) is None


def test_the_package_imports_only_the_standard_library():
    import ast
    import sys

    import flowkit_protocol

    for path in Path(flowkit_protocol.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for name in names:
                top = name.split(".")[0]
                assert top in sys.stdlib_module_names or top in (
                    "flowkit_protocol",
                    "__future__",
                ), (
                    path,
                    name,
                )


def test_params_types_read_a_requests_params():
    assert QueryIdParams.from_params({"query_id": "q"}) == QueryIdParams("q")
    assert GeographyParams.from_params({"aggregation_unit": "admin1"}) == GeographyParams("admin1")
    checks = QaChecksParams("calls", "count_msisdns", "2016-01-01", "2016-01-02")
    assert QaChecksParams.from_params(checks.as_params()) == checks
    for bad, param in (
        ({}, None),
        ({"query_id": "q", "colour": "blue"}, None),
        ({"query_id": 5}, "query_id"),
        ({"query_id": None}, "query_id"),
    ):
        with pytest.raises(ParamsError) as caught:
            QueryIdParams.from_params(bad)
        assert caught.value.param == param, bad
    with pytest.raises(ParamsError) as caught:
        QaChecksParams.from_params({**checks.as_params(), "start_date": 20160101})
    assert caught.value.param == "start_date"
    with pytest.raises(ParamsError, match="end_date"):
        QaChecksParams.from_params({k: v for k, v in checks.as_params().items() if k != "end_date"})
