"""Constants and small helpers the FlowAPI tests share (a uniquely named module, unlike conftest)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import zmq

AUDIENCE = "test-flowapi"

DAILY = {
    "query_kind": "daily_location",
    "date": "2016-03-01",
    "aggregation_unit": "admin3",
    "method": "last",
}
SPATIAL = {"query_kind": "spatial_aggregate", "locations": DAILY}
SPATIAL_SCOPES = [
    "admin3:spatial_aggregate:spatial_aggregate",
    "admin3:spatial_aggregate:daily_location",
]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@contextmanager
def fake_flowmachine(answer: Callable[[dict[str, Any]], dict[str, Any] | None]) -> Iterator[int]:
    """A ZeroMQ ROUTER on a free loopback port standing in for FlowMachine: each request (as a dict) gets
    `answer(request)` as its reply, or no reply at all when that is None. Yields the port."""
    bound = threading.Event()
    stop = threading.Event()
    port: list[int] = []

    def serve() -> None:
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

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert bound.wait(10), "the fake FlowMachine did not bind"
    try:
        yield port[0]
    finally:
        stop.set()
        thread.join(timeout=10)
