"""The API's own description (public): OpenAPI as JSON and YAML, and a ReDoc page.

The page loads ReDoc from `FLOWAPI_REDOC_SCRIPT` when FlowAPI has a copy (`make deps` and the container image
fetch one from the npm registry), so it renders where there is no internet; otherwise from ReDoc's CDN.
"""

from __future__ import annotations

from typing import Any

import yaml
from quart import Blueprint, Response, send_file

from flowapi import __version__
from flowapi.app import json_response, request_id, state
from flowapi.errors import APIError
from flowapi.openapi import build_spec

bp = Blueprint("spec", __name__)

REDOC_CDN = "https://cdn.redoc.ly/redoc/latest/bundles/redoc.standalone.js"
REDOC_LOCAL = "redoc.standalone.js"  # relative to the page: /api/0/spec/redoc.standalone.js
REDOC_PAGE = """<!DOCTYPE html>
<html>
  <head>
    <title>FlowAPI</title>
    <meta charset="utf-8"/>
    <meta name="viewport" content="width=device-width, initial-scale=1">
  </head>
  <body>
    <redoc spec-url="openapi.json"></redoc>
    <script src="{script}"></script>
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
    script = REDOC_LOCAL if state().settings.redoc_script is not None else REDOC_CDN
    return Response(REDOC_PAGE.format(script=script), status=200, mimetype="text/html")


@bp.route("/spec/redoc.standalone.js")
async def redoc_script() -> Response:
    path = state().settings.redoc_script
    if path is None:
        raise APIError(
            404, "This FlowAPI serves no copy of ReDoc; its page loads it from ReDoc's CDN."
        )
    return await send_file(path, mimetype="text/javascript", cache_timeout=86400)
