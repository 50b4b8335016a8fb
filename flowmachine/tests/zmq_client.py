"""A tiny synchronous client of the FlowMachine ZeroMQ server, as FlowAPI talks to it (a REQ socket)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from typing import Any

import zmq


class ZMQClient:
    def __init__(self, port: int, *, timeout_ms: int = 30_000) -> None:
        self.zctx = zmq.Context()
        self.socket = self.zctx.socket(zmq.REQ)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.setsockopt(zmq.RCVTIMEO, timeout_ms)
        self.socket.connect(f"tcp://127.0.0.1:{port}")

    def send_raw(self, raw: bytes) -> dict[str, Any]:
        self.socket.send(raw)
        return json.loads(self.socket.recv())

    def request(self, action: str, **params: Any) -> dict[str, Any]:
        message = {"request_id": str(uuid.uuid4()), "action": action, "params": params}
        return self.send_raw(json.dumps(message).encode())

    def wait_for(self, query_id: str, timeout: float = 60) -> dict[str, Any]:
        """Poll until the query is neither queued nor executing; the last poll reply."""
        deadline = time.monotonic() + timeout
        while True:
            reply = self.request("poll_query", query_id=query_id)
            state = reply["payload"].get("query_state")
            if state not in ("queued", "executing") or time.monotonic() > deadline:
                return reply
            time.sleep(0.05)

    def close(self) -> None:
        self.socket.close(linger=0)
        self.zctx.term()

    def __enter__(self) -> ZMQClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def spawn_server(fm_settings: Any, port: int, **extra_env: str) -> subprocess.Popen[bytes]:
    """The `flowmachine` server as a separate process against the test FlowDB and Redis."""
    env = {
        **os.environ,
        "FLOWMACHINE_PORT": str(port),
        "FLOWDB_HOST": fm_settings.flowdb_host,
        "FLOWDB_PORT": str(fm_settings.flowdb_port),
        "FLOWMACHINE_FLOWDB_USER": fm_settings.flowdb_user,
        "FLOWMACHINE_FLOWDB_PASSWORD": fm_settings.flowdb_password,
        "REDIS_HOST": fm_settings.redis_host,
        "REDIS_PORT": str(fm_settings.redis_port),
        "FLOWMACHINE_OWNER_LEASE_SECONDS": "3",
        **extra_env,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "flowmachine.core.server.server"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def wait_for_ping(port: int, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(proc.stderr.read().decode() if proc.stderr else "server exited")
        with ZMQClient(port, timeout_ms=500) as client:
            try:
                if client.request("ping")["msg"] == "pong":
                    return
            except zmq.Again:
                continue
    raise RuntimeError("the server did not answer")
