"""Test helpers for flowkit_jwt_generator: key pairs and a stand-in FlowAPI that serves only its
OpenAPI spec on a free loopback port. (A uniquely named module, not conftest, so the workspace's
test directories can all be collected in one run.)"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

AUDIENCE = "TEST_SERVER"
SCOPES = [
    "admin2:geography:geography",
    "admin3:spatial_aggregate:daily_location",
    "admin3:spatial_aggregate:spatial_aggregate",
    "get_available_dates",
    "get_qa_checks",
    "get_result",
    "nonspatial:histogram_aggregate:histogram_aggregate",
    "nonspatial:histogram_aggregate:radius_of_gyration",
    "run",
]
SPEC_PATH = "/api/0/spec/openapi.json"


@dataclass(frozen=True)
class KeyPair:
    private_pem: bytes
    public_pem: bytes

    @property
    def private_b64(self) -> str:
        return base64.b64encode(self.private_pem).decode()

    @property
    def public_b64(self) -> str:
        return base64.b64encode(self.public_pem).decode()


@dataclass
class SpecServer:
    """A loopback HTTP server answering `/api/0/spec/openapi.json` as FlowAPI does."""

    url: str
    paths_requested: list[str] = field(default_factory=list)


def spec_document() -> bytes:
    token_scheme = {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "x-security-scopes": SCOPES,
        "x-audience": AUDIENCE,
    }
    spec = {"openapi": "3.0.1", "components": {"securitySchemes": {"token": token_scheme}}}
    return json.dumps(spec).encode()


@contextmanager
def running_spec_server() -> Iterator[SpecServer]:
    requested: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requested.append(self.path)
            if self.path != SPEC_PATH:
                self.send_error(404)
                return
            body = spec_document()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield SpecServer(f"http://127.0.0.1:{server.server_address[1]}", requested)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
