"""Helpers for tests and benchmarks that need FlowMachine against a private FlowDB (see `flowdb.testing`).

settings = settings_for(cluster, redis_port)
with server_in_thread(settings) as server:     # a ZeroMQ server on a free loopback port
    port = server.settings.port
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg

from flowdb.cluster import Cluster
from flowdb.testing import free_port
from flowmachine.core.context import Context
from flowmachine.core.server.server import FlowmachineServer, ServerSettings
from flowmachine.core.settings import Settings


def settings_for(cluster: Cluster, redis_port: int, **overrides: Any) -> Settings:
    """FlowMachine's settings for a running private cluster and Redis on loopback (owner leases of 3 s, so a
    dead owner is noticed quickly in tests)."""
    port = cluster.status().port
    if port is None:
        raise RuntimeError("the FlowDB cluster is not running")
    settings = Settings(
        flowdb_host="127.0.0.1",
        flowdb_port=port,
        flowdb_user="flowmachine",
        flowdb_password=cluster.settings.role_password("flowmachine"),
        redis_host="127.0.0.1",
        redis_port=redis_port,
        owner_lease_seconds=3,
    )
    return replace(settings, **overrides)


@contextmanager
def server_in_thread(
    settings: Settings, *, threadpool_size: int = 4
) -> Iterator[FlowmachineServer]:
    """A FlowMachine server with its own context, serving from a thread of this process until the block ends."""
    with Context.open(settings) as context:
        server = FlowmachineServer(
            context, ServerSettings(port=free_port(), threadpool_size=threadpool_size)
        )
        thread = threading.Thread(target=asyncio.run, args=(server.serve(),), daemon=True)
        thread.start()
        if not server.bound.wait(10):
            raise RuntimeError("the flowmachine server did not start")
        try:
            yield server
        finally:
            server.stop()
            thread.join(timeout=10)


# FlowMachine's hand-made fixture FlowDB (a test module of this workspace, not part of the package).
FIXTURE_DATA = Path(__file__).resolve().parents[2] / "tests" / "fixture_data.py"


def load_fixture_data(conn: psycopg.Connection) -> Any:
    """Load FlowMachine's fixture data (`flowmachine/tests/fixture_data.py`, imported by path) into the
    cluster behind `conn`; returns what its `load` returns."""
    spec = importlib.util.spec_from_file_location("_flowmachine_fixture_data", FIXTURE_DATA)
    assert spec is not None and spec.loader is not None
    module = sys.modules.get(spec.name)
    if module is None:
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    return module.load(conn)
