"""A server's name and scopes, read from a FlowAPI OpenAPI document (`components.securitySchemes.token`:
`x-audience` names the server, `x-security-scopes` lists its scopes).

    read_spec(document)                 # ServerSpec(name, scopes); the document as a dict or JSON text
    fetch_spec("http://flowapi:9090")   # the same, from <url>/api/0/spec/openapi.json
    fetch_document("http://flowapi:9090")   # that document, as a dict

Both raise SpecError with a message for the admin (bad JSON, a missing key, an unreachable URL).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

SPEC_PATH = "/api/0/spec/openapi.json"
FETCH_TIMEOUT_SECONDS = 10.0
MAX_SPEC_BYTES = 5 * 1024 * 1024
MAX_SERVER_NAME = 120
MAX_SCOPE_LENGTH = 512


class SpecError(Exception):
    """The document cannot be read as a FlowAPI spec, or cannot be fetched."""


@dataclass(frozen=True)
class ServerSpec:
    name: str
    scopes: list[str]


def read_spec(document: Any) -> ServerSpec:
    """The server name and the sorted, distinct scopes in a FlowAPI spec (a dict, or JSON text)."""
    if isinstance(document, (str, bytes)):
        try:
            document = json.loads(document)
        except RecursionError:
            raise SpecError("The spec is nested too deeply to read.") from None
        except ValueError as exc:
            raise SpecError(f"The spec is not valid JSON: {exc}.") from None
    if not isinstance(document, dict):
        raise SpecError("The spec must be a JSON object (a FlowAPI OpenAPI document).")
    token: Any = document
    for key in ("components", "securitySchemes", "token"):
        token = token.get(key) if isinstance(token, dict) else None
        if token is None:
            raise SpecError(
                "The spec has no components.securitySchemes.token: is it FlowAPI's openapi.json?"
            )
    if not isinstance(token, dict):
        raise SpecError("components.securitySchemes.token in the spec is not an object.")
    name = token.get("x-audience")
    if name is None:
        raise SpecError("The spec has no x-audience in components.securitySchemes.token.")
    if not isinstance(name, str) or not name.strip():
        raise SpecError("x-audience in the spec must be a non-empty string.")
    if len(name.strip()) > MAX_SERVER_NAME:
        raise SpecError(f"x-audience in the spec is longer than {MAX_SERVER_NAME} characters.")
    scopes = token.get("x-security-scopes")
    if scopes is None:
        raise SpecError("The spec has no x-security-scopes in components.securitySchemes.token.")
    if not isinstance(scopes, list) or not all(
        isinstance(scope, str) and scope.strip() for scope in scopes
    ):
        raise SpecError("x-security-scopes in the spec must be a list of non-empty strings.")
    too_long = [scope for scope in scopes if len(scope.strip()) > MAX_SCOPE_LENGTH]
    if too_long:
        raise SpecError(f"A scope in the spec is longer than {MAX_SCOPE_LENGTH} characters.")
    return ServerSpec(name.strip(), sorted({scope.strip() for scope in scopes}))


def spec_url(flowapi_url: str) -> str:
    """Where a FlowAPI at `flowapi_url` publishes its spec (a URL already ending in .json is kept)."""
    url = flowapi_url.strip()
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SpecError(
            f"{flowapi_url!r} is not a FlowAPI URL: give one like http://flowapi.example:9090."
        )
    if parts.path.endswith(".json"):
        return url
    return url.rstrip("/") + SPEC_PATH


def fetch_spec(flowapi_url: str, timeout: float = FETCH_TIMEOUT_SECONDS) -> ServerSpec:
    """The server name and scopes a running FlowAPI publishes."""
    return read_spec(fetch_document(flowapi_url, timeout))


def fetch_document(flowapi_url: str, timeout: float = FETCH_TIMEOUT_SECONDS) -> dict[str, Any]:
    """The OpenAPI document a running FlowAPI publishes (no token needed), as a dict."""
    url = spec_url(flowapi_url)
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read(MAX_SPEC_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise SpecError(f"{url} answered {exc.code} {exc.reason}.") from None
    except urllib.error.URLError as exc:
        raise SpecError(f"Could not reach {url}: {exc.reason}.") from None
    except (TimeoutError, OSError) as exc:
        raise SpecError(f"Could not reach {url}: {exc}.") from None
    if len(body) > MAX_SPEC_BYTES:
        raise SpecError(
            f"{url} answered with more than {MAX_SPEC_BYTES} bytes: not a FlowAPI spec."
        )
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        raise SpecError(f"{url} did not answer with JSON: is it a FlowAPI?") from None
    if not isinstance(document, dict):
        raise SpecError(f"{url} did not answer with an OpenAPI document (a JSON object).")
    return document
