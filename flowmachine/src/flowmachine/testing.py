"""Helpers for tests and benchmarks that need FlowMachine against a private FlowDB (see `flowdb.testing`).

settings = settings_for(cluster, redis_port)
with server_in_thread(settings) as server:     # a ZeroMQ server on a free loopback port
    port = server.settings.port
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from flowdb.cluster import Cluster
from flowdb.testing import free_port
from flowmachine.core.context import Context
from flowmachine.core.server.server import FlowmachineServer, ServerSettings
from flowmachine.core.settings import Settings


def settings_for(cluster: Cluster, redis_port: int, **overrides: Any) -> Settings:
    """FlowMachine's settings for a running private cluster and Redis on loopback (owner leases of 3 s, so a
    dead owner is noticed quickly in tests)."""
    settings = Settings(
        flowdb_host="127.0.0.1",
        flowdb_port=cluster.status().port,
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
