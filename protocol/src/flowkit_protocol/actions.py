"""The actions a FlowMachine server answers: FlowKit 1.34's 14, plus `cancel_query` (ours, for FlowAPI's
DELETE /api/0/query/<id>)."""

from __future__ import annotations

from flowkit_protocol.wire_enum import WireEnum


class Action(WireEnum):
    PING = "ping"
    GET_AVAILABLE_QUERIES = "get_available_queries"
    GET_QUERY_SCHEMAS = "get_query_schemas"
    RUN_QUERY = "run_query"
    POLL_QUERY = "poll_query"
    GET_QUERY_KIND = "get_query_kind"
    GET_QUERY_PARAMS = "get_query_params"
    GET_SQL_FOR_QUERY_RESULT = "get_sql_for_query_result"
    GET_GEO_SQL_FOR_QUERY_RESULT = "get_geo_sql_for_query_result"
    GET_GEOGRAPHY = "get_geography"
    GET_AVAILABLE_DATES = "get_available_dates"
    GET_AGGREGATION_UNIT = "get_aggregation_unit"
    LIST_QA_CHECKS = "list_qa_checks"
    GET_QA_CHECKS = "get_qa_checks"
    CANCEL_QUERY = "cancel_query"
