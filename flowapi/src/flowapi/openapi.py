"""The OpenAPI 3.0.1 document FlowAPI publishes at /api/0/spec/openapi.json (and .yaml).

Query components come from FlowMachine's `get_query_schemas` on every call; the bearer scheme
`token` carries `x-security-scopes` (every scope, see permissions.all_scopes) and `x-audience` (this
server's FLOWAPI_IDENTIFIER), which the JWT generator reads. Paths use OpenAPI's `{name}` templating.
"""

from __future__ import annotations

import copy
from typing import Any

from flowapi.permissions import all_scopes

QUERY_ID = {
    "name": "query_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
    "description": "A query id, as returned by run.",
}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {"status": {"type": "string"}, "msg": {"type": "string"}},
                }
            }
        },
    }


AUTH_ERRORS = {
    "401": _error("Missing or expired token."),
    "403": _error("No single role of the token holds the scopes needed."),
    "422": _error("Invalid token."),
    "503": _error("FlowMachine did not answer in time."),
}

PROGRESS = {
    "type": "object",
    "properties": {
        "eligible": {"type": "integer"},
        "queued": {"type": "integer"},
        "running": {"type": "integer"},
    },
}


def _op(
    operation_id: str,
    summary: str,
    responses: dict[str, Any],
    *,
    parameters: list[dict[str, Any]] | None = None,
    secured: bool = True,
    **extra: Any,
) -> dict[str, Any]:
    op: dict[str, Any] = {"operationId": operation_id, "summary": summary}
    if parameters:
        op["parameters"] = parameters
    op.update(extra)
    op["responses"] = {**responses, **(AUTH_ERRORS if secured else {})}
    if secured:
        op["security"] = [{"token": []}]
    return op


def _geojson(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/geo+json": {"schema": {"type": "object"}}},
    }


def paths() -> dict[str, Any]:
    result_200 = {
        "description": "The result, streamed.",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "query_id": {"type": "string"},
                        "query_result": {"type": "array", "items": {"type": "object"}},
                    },
                }
            }
        },
    }
    result_errors = {
        "202": {"description": "Still running."},
        "400": _error("Unsupported file type."),
        "403": _error("The query errored, or the token does not cover it."),
        "404": _error("Unknown query id, or no result (run the query again)."),
    }
    filetype = {
        "name": "filetype",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "enum": ["json", "csv", "geojson"]},
    }
    unit = {
        "name": "aggregation_unit",
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
    }
    qa_path = [
        {"name": "cdr_type", "in": "path", "required": True, "schema": {"type": "string"}},
        {"name": "check_id", "in": "path", "required": True, "schema": {"type": "string"}},
    ]
    dates = [
        {"name": n, "in": "query", "required": True, "schema": {"type": "string", "format": "date"}}
        for n in ("start_date", "end_date")
    ]
    check_date = {
        "name": "check_date",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "format": "date"},
    }
    return {
        "/api/0/run": {
            "post": _op(
                "query.run_query.post",
                "Run a query",
                {
                    "202": {
                        "description": "Accepted; Location is /api/0/poll/<query_id>.",
                        "headers": {"Location": {"schema": {"type": "string"}}},
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "query_id": {"type": "string"},
                                        "progress": PROGRESS,
                                    },
                                }
                            }
                        },
                    },
                    "400": _error("The query spec is not valid."),
                    "413": _error("The request body is too large."),
                },
                requestBody={
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/FlowmachineQuerySchema"}
                        }
                    },
                },
            )
        },
        "/api/0/poll/{query_id}": {
            "get": _op(
                "query.poll_query.get",
                "Poll a query's status",
                {
                    "202": {"description": "Queued or executing, with progress."},
                    "303": {
                        "description": "Completed; Location is /api/0/get/<query_id>.",
                        "headers": {"Location": {"schema": {"type": "string"}}},
                    },
                    "404": _error("Unknown query id, or not running."),
                    "500": _error("The query errored or was cancelled."),
                },
                parameters=[QUERY_ID],
            )
        },
        "/api/0/get/{query_id}": {
            "get": _op(
                "query.get_query_result.get",
                "Get a query's result as JSON",
                {"200": result_200, **result_errors},
                parameters=[QUERY_ID],
            )
        },
        "/api/0/get/{query_id}.{filetype}": {
            "get": _op(
                "query.get_query_result_as_file.get",
                "Get a query's result as json, csv or geojson",
                {"200": {"description": "The result, streamed."}, **result_errors},
                parameters=[QUERY_ID, filetype],
            )
        },
        "/api/0/query/{query_id}": {
            "delete": _op(
                "query.cancel_query.delete",
                "Cancel a queued or running query",
                {
                    "200": {"description": "`cancelled` says whether anything was stopped."},
                    "404": _error("Unknown query id."),
                },
                parameters=[QUERY_ID],
            )
        },
        "/api/0/geography/{aggregation_unit}": {
            "get": _op(
                "geography.get_geography.get",
                "Get the boundaries of an aggregation unit",
                {"200": _geojson("A GeoJSON FeatureCollection."), "400": _error("Unknown unit.")},
                parameters=[unit],
            )
        },
        "/api/0/available_dates": {
            "get": _op(
                "geography.get_available_dates.get",
                "Dates with data, per event type",
                {"200": {"description": "`{available_dates: {event type: [date, ...]}}`"}},
            )
        },
        "/api/0/qa/": {
            "get": _op(
                "qa.list_qa_checks.get",
                "List the available qa checks",
                {"200": {"description": "`[{cdr_type, type_of_query_or_check}, ...]`"}},
            )
        },
        "/api/0/qa/{cdr_type}/{check_id}": {
            "get": _op(
                "qa.get_qa_checks.get",
                "Outcomes of a qa check between two dates",
                {
                    "200": {"description": "`[{outcome, cdr_date, type_of_query_or_check}]`"},
                    "400": _error("Bad dates."),
                    "404": _error("No outcomes."),
                },
                parameters=[*qa_path, *dates],
            )
        },
        "/api/0/qa/{cdr_type}/{check_id}/{check_date}": {
            "get": _op(
                "qa.get_qa_check_outcome.get",
                "The outcome of a qa check on one day (plain text)",
                {
                    "200": {"description": "The outcome.", "content": {"text/html": {}}},
                    "400": _error("Bad date."),
                    "404": _error("No outcome."),
                },
                parameters=[*qa_path, check_date],
            )
        },
        "/api/0/spec/openapi.json": {
            "get": _op(
                "spec.openapi_json.get",
                "This document",
                {"200": {"description": "OpenAPI 3.0.1 (JSON)."}},
                secured=False,
            )
        },
        "/api/0/spec/openapi.yaml": {
            "get": _op(
                "spec.openapi_yaml.get",
                "This document as YAML",
                {"200": {"description": "OpenAPI 3.0.1 (YAML)."}},
                secured=False,
            )
        },
        "/api/0/spec/redoc": {
            "get": _op(
                "spec.redoc_spec.get",
                "This document, rendered by ReDoc",
                {"200": {"description": "HTML."}},
                secured=False,
            )
        },
        "/api/0/spec/redoc.standalone.js": {
            "get": _op(
                "spec.redoc_script.get",
                "ReDoc itself, when this FlowAPI has a copy (FLOWAPI_REDOC_SCRIPT)",
                {
                    "200": {"description": "JavaScript.", "content": {"text/javascript": {}}},
                    "404": _error("No copy: the page loads ReDoc from its CDN."),
                },
                secured=False,
            )
        },
    }


def build_spec(query_schemas: dict[str, Any], *, audience: str, version: str) -> dict[str, Any]:
    schemas = copy.deepcopy(query_schemas)
    for schema in schemas.values():
        if isinstance(schema, dict) and "query_kind" in schema.get("properties", {}):
            required = schema.setdefault("required", [])
            if "query_kind" not in required:
                required.append("query_kind")
    return {
        "openapi": "3.0.1",
        "info": {
            "title": "FlowAPI",
            "version": version,
            "description": "FlowKit Analytical API",
            "license": {"name": "MPLv2", "url": "https://www.mozilla.org/en-US/MPL/2.0/"},
            "contact": {"email": "flowkit@flowminder.org"},
        },
        "paths": paths(),
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "token": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "x-security-scopes": all_scopes(schemas),
                    "x-audience": audience,
                }
            },
        },
    }
