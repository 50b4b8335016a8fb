"""End-to-end fixtures: a private FlowDB, Redis and FlowMachine server (FlowAPI's test fixtures,
loaded by path) and FlowAPI served by hypercorn on a loopback port, for flowclient to talk to."""

from __future__ import annotations

import asyncio
import dataclasses
import importlib.util
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypercorn.asyncio import serve

from flowapi import Settings, create_app
from flowapi.main import hypercorn_config
from flowdb.testing import free_port

_FLOWAPI_TESTS = Path(__file__).resolve().parents[2] / "flowapi" / "tests"
sys.path.insert(0, str(_FLOWAPI_TESTS))  # its conftest imports flowapi_test_helpers


def _load_flowapi_fixtures() -> Any:
    spec = importlib.util.spec_from_file_location(
        "_flowapi_test_fixtures", _FLOWAPI_TESTS / "conftest.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


_fixtures = _load_flowapi_fixtures()
# Re-exported so pytest finds them here: FlowDB, Redis, FlowMachine server, keys, settings, tokens.
api_scratch = _fixtures.api_scratch
flowdb_cluster = _fixtures.flowdb_cluster
redis_port = _fixtures.redis_port
fm_port = _fixtures.fm_port
signing_keys = _fixtures.signing_keys
settings = _fixtures.settings
make_token = _fixtures.make_token


@pytest.fixture(scope="session")
def flowapi_url(settings: Settings) -> Iterator[str]:
    """FlowAPI under hypercorn in a thread of this process, on a free loopback port."""
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
    for _ in range(200):
        try:
            httpx.get(f"{url}/api/0/spec/openapi.json", timeout=1).raise_for_status()
            break
        except httpx.HTTPError:
            threading.Event().wait(0.05)
    else:
        raise RuntimeError("FlowAPI did not start")
    yield url
    loop.call_soon_threadsafe(stop.set)
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def universal_token(flowapi_url: str, make_token: Callable[..., str]) -> str:
    """A token granting every scope the server publishes (as flowkit_jwt_generator mints)."""
    spec = httpx.get(f"{flowapi_url}/api/0/spec/openapi.json").json()
    scopes = spec["components"]["securitySchemes"]["token"]["x-security-scopes"]
    return make_token({"universal_role": scopes})
