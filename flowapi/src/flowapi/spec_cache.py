"""The last OpenAPI document FlowAPI built, kept in memory so the public spec never waits on FlowMachine.

The document is built from FlowMachine's query schemas, which change only when FlowMachine does. Once one
fetch succeeded, every request gets the document at once; one older than `refresh_seconds` is fetched again
in the background (one fetch at a time), and a failed fetch leaves the last one in place. Until a first
fetch succeeds (FlowAPI starts one when it starts serving), a request waits for the fetch under way, whose
FlowMachine call has a short timeout, and gets its error (503 with `Retry-After` when FlowMachine is
unavailable).

    specs = SpecCache(lambda: fetch_document(flowmachine, audience="..."), refresh_seconds=60, log=log)
    document = await specs.get()
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from flowapi.errors import APIError
from flowapi.openapi import build_spec
from flowapi.version import __version__
from flowapi.zmq_client import FlowmachineClient
from flowkit_protocol.payloads import QuerySchemas

Document = dict[str, Any]

# Seconds a fetch waits for FlowMachine (or less, FLOWAPI_ZMQ_TIMEOUT): the schemas are a quick answer, and a
# client waiting for the first document should hear soon that there is none yet.
FETCH_TIMEOUT = 5.0


async def fetch_document(flowmachine: FlowmachineClient, *, audience: str) -> Document:
    """The OpenAPI document, built from FlowMachine's query schemas as they are now."""
    reply = await flowmachine.get_query_schemas(
        request_id=f"spec-{uuid.uuid4()}", timeout=FETCH_TIMEOUT
    )
    schemas = QuerySchemas.from_payload(reply.payload).query_schemas
    if not reply.ok or schemas is None:
        raise APIError(500, reply.msg or "FlowMachine gave no query schemas.")
    return build_spec(schemas, audience=audience, version=__version__)


class SpecCache:
    def __init__(
        self,
        fetch: Callable[[], Awaitable[Document]],
        *,
        refresh_seconds: float,
        log: logging.Logger,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self.refresh_seconds = refresh_seconds
        self._log = log
        self._clock = clock
        self._document: Document | None = None
        self._fetched_at = -math.inf
        self._task: asyncio.Task[Document] | None = None

    @property
    def document(self) -> Document | None:
        """The last document built, if any."""
        return self._document

    async def get(self) -> Document:
        """The last document (refreshed in the background when old); the first one is waited for."""
        if self._document is None:
            return await asyncio.shield(self.refresh())
        if self._clock() - self._fetched_at >= self.refresh_seconds:
            self.refresh()
        return self._document

    def refresh(self) -> asyncio.Task[Document]:
        """Start a fetch unless one is under way; the fetch under way."""
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._run())
            self._task.add_done_callback(self._done)
        return self._task

    async def _run(self) -> Document:
        document = await self._fetch()
        self._document, self._fetched_at = document, self._clock()
        return document

    def _done(self, task: asyncio.Task[Document]) -> None:
        if not task.cancelled() and task.exception() is not None:  # retrieved: no asyncio warning
            self._log.warning("could not fetch the query schemas: %s", task.exception())

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):  # cancelled or failed: over either way
                pass
