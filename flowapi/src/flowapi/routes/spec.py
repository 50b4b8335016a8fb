"""The API's own description (public): OpenAPI as JSON and YAML, and a ReDoc page.

The page loads ReDoc from `FLOWAPI_REDOC_SCRIPT` when FlowAPI has a copy (`make deps` and the container image
fetch one from the npm registry), so it renders where there is no internet; otherwise from ReDoc's CDN.
The document is the last one built (`spec_cache`): served at once, also while FlowMachine is down.
"""

from __future__ import annotations

from typing import Any

import yaml
from quart import Blueprint, Response, send_file

from flowapi.errors import APIError
from flowapi.headers import redoc_policy
from flowapi.responses import json_response
from flowapi.state import state

bp = Blueprint("spec", __name__)

REDOC_ORIGIN = "https://cdn.redoc.ly"
REDOC_CDN = f"{REDOC_ORIGIN}/redoc/latest/bundles/redoc.standalone.js"
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
    return await state().specs.get()


@bp.route("/spec/openapi.json")
async def openapi_json() -> Response:
    return json_response(await _spec(), 200)


@bp.route("/spec/openapi.yaml")
async def openapi_yaml() -> Response:
    text = yaml.safe_dump(await _spec(), sort_keys=False)
    return Response(text, status=200, mimetype="application/x-yaml")


@bp.route("/spec/redoc")
async def redoc_spec() -> Response:
    local = state().settings.redoc_script is not None
    page = REDOC_PAGE.format(script=REDOC_LOCAL if local else REDOC_CDN)
    response = Response(page, status=200, mimetype="text/html")
    response.headers["Content-Security-Policy"] = redoc_policy("'self'" if local else REDOC_ORIGIN)
    return response


@bp.route("/spec/redoc.standalone.js")
async def redoc_script() -> Response:
    path = state().settings.redoc_script
    if path is None:
        raise APIError(
            404, "This FlowAPI serves no copy of ReDoc; its page loads it from ReDoc's CDN."
        )
    return await send_file(path, mimetype="text/javascript", cache_timeout=86400)
