"""A server's name and scopes, read from a FlowAPI OpenAPI document (`components.securitySchemes.token`:
`x-audience` names the server, `x-security-scopes` lists its scopes).

    read_spec(document)                 # ServerSpec(name, scopes); the document as a dict or JSON text
    fetch_spec("http://flowapi:9090")   # the same, from <url>/api/0/spec/openapi.json
    fetch_document("http://flowapi:9090")   # that document, as a dict
    origin("http://FlowAPI:9090/x")     # "http://flowapi:9090", what FLOWAUTH_SPEC_URL_ORIGINS lists

All raise SpecError with a detailed message (bad JSON, a missing key, an unreachable URL): fine for the CLI's
operator; the web route logs it and answers one generic message (it must not tell which ports are open).
"""

from __future__ import annotations

import http.client
import json
import ssl
import time
import urllib.parse
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
    origin(url)  # an http(s) URL with a host, else SpecError
    if urllib.parse.urlsplit(url).path.endswith(".json"):
        return url
    return url.rstrip("/") + SPEC_PATH


def origin(url: str) -> str:
    """`scheme://host:port` of an http(s) URL (lower case, the default port written out); SpecError otherwise.

    A URL with a user name or password is refused: `http://allowed@other` goes to `other`.
    """
    text = url.strip() if isinstance(url, str) else ""
    problem = SpecError(f"{url!r} is not a FlowAPI URL: give one like http://flowapi.example:9090.")
    try:
        parts = urllib.parse.urlsplit(text)
        port = parts.port
    except ValueError:
        raise problem from None
    scheme, host = parts.scheme.lower(), parts.hostname
    if scheme not in ("http", "https") or not host or parts.username is not None:
        raise problem
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port or (443 if scheme == 'https' else 80)}"


def fetch_spec(flowapi_url: str, timeout: float = FETCH_TIMEOUT_SECONDS) -> ServerSpec:
    """The server name and scopes a running FlowAPI publishes."""
    return read_spec(fetch_document(flowapi_url, timeout))


def fetch_document(flowapi_url: str, timeout: float = FETCH_TIMEOUT_SECONDS) -> dict[str, Any]:
    """The OpenAPI document a running FlowAPI publishes (no token needed), as a dict.

    Only that one URL is asked (no proxy; a redirect is an error, not followed); the answer must be 200 with at
    most MAX_SPEC_BYTES, and the whole exchange must end within `timeout` seconds (each wait for the network
    is bounded by what is left of it).
    """
    url = spec_url(flowapi_url)
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname
    if host is None:  # spec_url has already refused a URL without a host
        raise SpecError(f"{url!r} is not a FlowAPI URL: it names no host.")
    deadline = time.monotonic() + timeout
    if parts.scheme.lower() == "https":
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(
            host, parts.port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        connection = http.client.HTTPConnection(host, parts.port, timeout=timeout)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.connect()
        sock = connection.sock  # kept: the connection lets go of it once the answer is read
        connection.request("GET", target, headers={"Accept": "application/json"})
        _set_timeout(sock, deadline)
        response = connection.getresponse()
        if response.status != 200:
            moved = " (redirects are not followed)" if 300 <= response.status < 400 else ""
            raise SpecError(f"{url} answered {response.status} {response.reason}{moved}.")
        length = response.getheader("Content-Length", "")
        if length.isdigit() and int(length) > MAX_SPEC_BYTES:
            raise SpecError(f"{url} answered with {length} bytes: too many for a FlowAPI spec.")
        chunks: list[bytes] = []
        size = 0
        while True:
            _set_timeout(sock, deadline)
            chunk = response.read1(64 * 1024)
            if not chunk:
                break
            size += len(chunk)
            if size > MAX_SPEC_BYTES:
                raise SpecError(
                    f"{url} answered with more than {MAX_SPEC_BYTES} bytes: not a FlowAPI spec."
                )
            chunks.append(chunk)
    except (OSError, http.client.HTTPException) as exc:
        raise SpecError(f"Could not reach {url}: {exc or type(exc).__name__}.") from None
    finally:
        connection.close()
    try:
        document = json.loads(b"".join(chunks))
    except (ValueError, RecursionError):
        raise SpecError(f"{url} did not answer with JSON: is it a FlowAPI?") from None
    if not isinstance(document, dict):
        raise SpecError(f"{url} did not answer with an OpenAPI document (a JSON object).")
    return document


def _set_timeout(sock: Any, deadline: float) -> None:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("the time allowed for the fetch ran out")
    if sock is not None:
        sock.settimeout(left)
