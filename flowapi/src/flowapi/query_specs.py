"""The query spec a request is about: the one in a run's body, or the one a query id was run with."""

from __future__ import annotations

from typing import Any

from quart import g, request

from flowapi.errors import bad_request, not_found
from flowapi.json_body import NotJSON, TooDeep, parse_json
from flowapi.request_record import request_id
from flowapi.state import state
from flowkit_protocol.payloads import QueryParams


async def query_spec_from_body() -> dict[str, Any]:
    """The JSON object in the request body; 400 in FlowKit's words when it is not one."""
    # over MAX_CONTENT_LENGTH: 413 from Quart
    raw = await request.get_data(cache=True, as_text=False, parse_form_data=False)
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
