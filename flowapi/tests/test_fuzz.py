"""A bounded schemathesis run against FlowAPI served by hypercorn on loopback: no input gives a 5xx.

Every operation of the published spec gets a few generated requests (valid and invalid) with an
all-access token; `run` gets only invalid ones, since a valid spec would really be computed.
"""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.request
from collections.abc import Iterator

import pytest
import schemathesis
from flowapi_test_helpers import bearer
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from flowapi import create_app
from flowapi.main import hypercorn_config
from flowdb.testing import free_port

# Per operation and generation mode. Poll answers 500 for errored and cancelled queries (FlowKit's
# protocol), which generated ids never reach.
MAX_EXAMPLES = 8


@pytest.fixture(scope="module")
def live_url(settings) -> Iterator[str]:
    from dataclasses import replace

    from hypercorn.asyncio import serve

    app_settings = replace(settings, port=free_port())
    app = create_app(app_settings)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    started = threading.Event()

    async def run() -> None:
        config = hypercorn_config(app_settings)
        task = asyncio.ensure_future(serve(app, config, shutdown_trigger=stop.wait))
        started.set()
        await task

    thread = threading.Thread(target=loop.run_until_complete, args=(run(),), daemon=True)
    thread.start()
    started.wait(10)
    url = f"http://127.0.0.1:{app_settings.port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{url}/", timeout=1).close()
            break
        except OSError:
            threading.Event().wait(0.1)
    yield url
    loop.call_soon_threadsafe(stop.set)
    thread.join(timeout=20)


def test_no_generated_request_gets_a_5xx(live_url, make_token):
    with urllib.request.urlopen(f"{live_url}/api/0/spec/openapi.json", timeout=30) as response:
        spec = json.load(response)
    scopes = spec["components"]["securitySchemes"]["token"]["x-security-scopes"]
    headers = bearer(make_token({"all": scopes}))
    schema = schemathesis.openapi.from_dict(spec)
    failures: list[str] = []
    sent: list[int] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        modes = [GenerationMode.NEGATIVE]
        if operation.path != "/api/0/run":
            # A generated *valid* spec would really run (perhaps over centuries of dates): not here.
            modes.append(GenerationMode.POSITIVE)
        for mode in modes:

            @settings(
                max_examples=MAX_EXAMPLES,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def check(case) -> None:
                response = case.call(base_url=live_url, headers=headers, timeout=60)
                sent.append(response.status_code)
                if response.status_code >= 500:
                    failures.append(
                        f"{case.method} {case.path} {case.path_parameters} {case.query} {case.body!r}"
                        f" -> {response.status_code} {response.text[:200]}"
                    )

            try:
                check()
            except Unsatisfiable:  # nothing to make invalid (an operation without parameters)
                assert mode is GenerationMode.NEGATIVE
    assert not failures, "\n".join(failures[:20])
    assert len(sent) > 50 and any(code < 300 for code in sent)
