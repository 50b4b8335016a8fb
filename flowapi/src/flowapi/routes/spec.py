"""The API's own description (public): OpenAPI as JSON and YAML, and a ReDoc page."""

from __future__ import annotations

from typing import Any

import yaml
from quart import Blueprint, Response

from flowapi import __version__
from flowapi.app import json_response, request_id, state
from flowapi.errors import APIError
from flowapi.openapi import build_spec

bp = Blueprint("spec", __name__)

REDOC_PAGE = """<!DOCTYPE html>
<html>
  <head>
    <title>FlowAPI</title>
    <meta charset="utf-8"/>
    <meta name="viewport" content="width=device-width, initial-scale=1">
  </head>
  <body>
    <redoc spec-url="openapi.json"></redoc>
    <script src="https://cdn.redoc.ly/redoc/latest/bundles/redoc.standalone.js"></script>
  </body>
</html>
"""


async def _spec() -> dict[str, Any]:
    app_state = state()
    reply = await app_state.flowmachine.get_query_schemas(request_id=request_id())
    schemas = reply.payload.get("query_schemas")
    if not reply.ok or not isinstance(schemas, dict):
        raise APIError(500, reply.msg or "FlowMachine gave no query schemas.")
    return build_spec(schemas, audience=app_state.settings.flowapi_identifier, version=__version__)


@bp.route("/spec/openapi.json")
async def openapi_json() -> Response:
    return json_response(await _spec(), 200)


@bp.route("/spec/openapi.yaml")
async def openapi_yaml() -> Response:
    text = yaml.safe_dump(await _spec(), sort_keys=False)
    return Response(text, status=200, mimetype="application/x-yaml")


@bp.route("/spec/redoc")
async def redoc_spec() -> Response:
    return Response(REDOC_PAGE, status=200, mimetype="text/html")
