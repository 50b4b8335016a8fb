"""Helpers for tests that stand FlowAPI up against a real FlowMachine server and FlowDB: FlowAPI's own tests and
those of the packages that talk to it (flowclient). Needs flowapi's `testing` extra (flowdb, flowmachine and
flowkit-jwt-generator); FlowAPI itself never imports them.

    with flowmachine_backend("mytests-") as backend:   # private FlowDB (FlowMachine's fixture data), Redis,
        tokens = TokenMinter.new()                     # and a FlowMachine server in a thread, on loopback
        settings = settings_for(backend, tokens.public_key)
        with serve_in_thread(settings) as url:         # FlowAPI under hypercorn on a free loopback port
            token = tokens.token({"analyst": ["run", "get_result", ...]})

In-process instead of served: `async with app_test_client(settings) as client: await client.get(...)`.
Stand-ins: `fake_flowmachine(answer)` (a ZeroMQ ROUTER answering as told) for FlowMachine's failures.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import threading
import time
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

import zmq
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypercorn.asyncio import serve

from flowapi.app import create_app
from flowapi.main import hypercorn_config
from flowapi.settings import Settings
from flowdb.cluster import Cluster
from flowdb.testing import free_port, private_redis, scratch_directory, temporary_cluster
from flowkit_jwt_generator import generate_token
from flowmachine.testing import load_fixture_data, server_in_thread
from flowmachine.testing import settings_for as flowmachine_settings_for

AUDIENCE = "test-flowapi"  # the FLOWAPI_IDENTIFIER of test servers, the audience of test tokens


def bearer(token: str) -> dict[str, str]:
    """The `Authorization` header carrying `token`."""
    return {"Authorization": f"Bearer {token}"}


def universal_scopes(spec: dict[str, Any]) -> list[str]:
    """Every scope a FlowAPI publishes in its OpenAPI document `spec`."""
    scopes: list[str] = spec["components"]["securitySchemes"]["token"]["x-security-scopes"]
    return scopes


# ---------------------------------------------------------------------------------------------- tokens


@dataclass(frozen=True)
class TokenMinter:
    """An RSA key pair and the audience of a test FlowAPI; mints tokens as FlowAuth would issue them."""

    private_key: rsa.RSAPrivateKey
    audience: str = AUDIENCE

    @classmethod
    def new(cls, audience: str = AUDIENCE) -> TokenMinter:
        return cls(rsa.generate_private_key(public_exponent=65537, key_size=2048), audience)

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return self.private_key.public_key()

    @property
    def public_pem(self) -> bytes:
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def token(self, roles: dict[str, list[str]], **overrides: Any) -> str:
        """A token for user `test` with `roles`, valid for 5 minutes; `overrides` go to
        `flowkit_jwt_generator.generate_token` (another username, lifetime, key or audience)."""
        args: dict[str, Any] = {
            "flowapi_identifier": self.audience,
            "username": "test",
            "private_key": self.private_key,
            "lifetime": dt.timedelta(minutes=5),
            "roles": roles,
        }
        args.update(overrides)
        return generate_token(**args)


# ---------------------------------------------------------------------- FlowDB, Redis and FlowMachine


@dataclass(frozen=True)
class FlowmachineBackend:
    """What FlowAPI talks to: a private FlowDB cluster, its Redis and a FlowMachine server, on loopback."""

    cluster: Cluster
    flowdb_port: int
    redis_port: int
    flowmachine_port: int


@contextmanager
def flowmachine_backend(prefix: str = "flowapi-tests-") -> Iterator[FlowmachineBackend]:
    """A private FlowDB with FlowMachine's fixture data, a private Redis and a FlowMachine server in a thread of
    this process, all in a scratch directory named with `prefix`; stopped and removed when the block ends."""
    with (
        scratch_directory(prefix) as root,
        temporary_cluster(root) as cluster,
        private_redis(root / "redis") as redis_port,
    ):
        flowdb_port = cluster.status().port
        if flowdb_port is None:
            raise RuntimeError("the test FlowDB cluster did not start")
        with cluster.connect() as conn:
            load_fixture_data(conn)
        with server_in_thread(flowmachine_settings_for(cluster, redis_port)) as server:
            yield FlowmachineBackend(cluster, flowdb_port, redis_port, server.settings.port)


def settings_for(
    backend: FlowmachineBackend, public_key: rsa.RSAPublicKey, **overrides: Any
) -> Settings:
    """FlowAPI's settings for `backend`, checking tokens with `public_key` for AUDIENCE; results stream in
    chunks of 3 rows (several chunks even for small results). `overrides` replace any field."""
    settings = Settings(
        public_jwt_signing_key=public_key,
        flowapi_identifier=AUDIENCE,
        flowmachine_host="127.0.0.1",
        flowmachine_port=backend.flowmachine_port,
        flowdb_host="127.0.0.1",
        flowdb_port=backend.flowdb_port,
        flowdb_user="flowapi",
        flowdb_password=backend.cluster.settings.role_password("flowapi"),
        zmq_timeout_seconds=30,
        result_chunk_rows=3,
        db_pool_size=4,
        max_body_bytes=64 * 1024,
    )
    return dataclasses.replace(settings, **overrides)


# ------------------------------------------------------------------------------------ FlowAPI itself


@asynccontextmanager
async def app_test_client(settings: Settings) -> AsyncIterator[Any]:
    """Quart's test client of a fresh app for `settings`, started (and stopped) as a server would be."""
    app = create_app(settings)
    async with app.test_app() as test_app:
        yield test_app.test_client()


@contextmanager
def serve_in_thread(
    settings: Settings, *, ready_path: str = "/api/0/spec/openapi.json", timeout: float = 30
) -> Iterator[str]:
    """FlowAPI for `settings` under hypercorn in a thread of this process, on a free loopback port; yields its
    URL once `ready_path` answers 200 (by default the spec, so FlowMachine is reachable), stops at the end."""
    served = dataclasses.replace(settings, bind_address="127.0.0.1", port=free_port())
    app = create_app(served)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(serve(app, hypercorn_config(served), shutdown_trigger=stop.wait))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{served.port}"
    try:
        _wait_until_ready(url + ready_path, timeout)
        yield url
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=20)
        if not thread.is_alive():
            loop.close()


def _wait_until_ready(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:  # not listening yet, or an error status (HTTPError is an OSError)
            pass
        time.sleep(0.05)
    raise RuntimeError(f"FlowAPI did not answer {url} within {timeout:g} seconds")


# ------------------------------------------------------------------------------ a FlowMachine stand-in


@contextmanager
def fake_flowmachine(answer: Callable[[dict[str, Any]], dict[str, Any] | None]) -> Iterator[int]:
    """A ZeroMQ ROUTER on a free loopback port standing in for FlowMachine: each request (as a dict) gets
    `answer(request)` as its reply, or no reply at all when that is None. Yields the port."""
    bound = threading.Event()
    stop = threading.Event()
    port: list[int] = []

    def serve_requests() -> None:
        context = zmq.Context()
        socket = context.socket(zmq.ROUTER)
        socket.setsockopt(zmq.LINGER, 0)
        port.append(socket.bind_to_random_port("tcp://127.0.0.1"))
        bound.set()
        try:
            while not stop.is_set():
                if not socket.poll(50):
                    continue
                peer, empty, body = socket.recv_multipart()
                reply = answer(json.loads(body))
                if reply is not None:
                    socket.send_multipart([peer, empty, json.dumps(reply).encode()])
        finally:
            socket.close(linger=0)
            context.term()

    thread = threading.Thread(target=serve_requests, daemon=True)
    thread.start()
    if not bound.wait(10):
        raise RuntimeError("the fake FlowMachine did not bind")
    try:
        yield port[0]
    finally:
        stop.set()
        thread.join(timeout=10)
