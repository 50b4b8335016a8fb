"""The FlowMachine client: one coroutine per ZeroMQ action, each returning a typed `Reply`.

Every call takes a REQ socket connected to the FlowMachine ROUTER, sends one request and waits at most
`timeout` seconds for its reply. The server's replies carry no request id, so a socket is never shared
between concurrent calls: each call has one to itself, taken from a pool of idle connected sockets (or
newly connected) and given back after its reply, so a busy API does not pay a TCP and ZMTP handshake per
call. A socket whose call failed or timed out (its REQ state is unknown) is closed, never reused.

`FlowmachineUnavailable` (the app answers 503 with `Retry-After` and a JSON body) is raised when the server
does not answer in time, when the socket fails, and when the server replies that it cannot work just now
(an error reply whose payload names what is `unavailable`, e.g. its Redis, and when to `retry_after`):
then no route goes on to read such a reply as an answer about the query.
"""

from __future__ import annotations

import asyncio
from typing import Any

import zmq
import zmq.asyncio

from flowkit_protocol import DEFAULT_RETRY_AFTER, Action, MalformedReply, Reply, Request
from flowkit_protocol.envelope import unavailable_payload
from flowkit_protocol.payloads import GeographyParams, QaChecksParams, QueryIdParams, QuerySpec

__all__ = ["FlowmachineClient", "FlowmachineUnavailable", "MalformedReply"]


class FlowmachineUnavailable(Exception):
    """FlowMachine cannot answer now: `msg` and `payload` are for the client, `detail` for the log."""

    def __init__(
        self,
        msg: str,
        *,
        detail: str | None = None,
        retry_after: int = DEFAULT_RETRY_AFTER,
        payload: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or msg)
        self.msg = msg
        self.detail = detail or msg
        self.retry_after = retry_after
        self.payload = (
            payload if payload is not None else unavailable_payload("flowmachine", retry_after)
        )


class FlowmachineClient:
    def __init__(self, endpoint: str, *, timeout: float, max_idle_sockets: int = 64) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self.max_idle_sockets = max_idle_sockets
        self._zctx: zmq.asyncio.Context | None = None
        self._idle: list[zmq.asyncio.Socket] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    def _context(self) -> zmq.asyncio.Context:
        if self._zctx is None:
            self._zctx = zmq.asyncio.Context()
        return self._zctx

    def _take_socket(self) -> zmq.asyncio.Socket:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # asyncio sockets belong to the loop that first used them
            self._close_idle()
            self._loop = loop
        if self._idle:
            return self._idle.pop()
        socket = self._context().socket(zmq.REQ)
        socket.setsockopt(zmq.LINGER, 0)
        socket.connect(self.endpoint)
        return socket

    def _give_back(self, socket: zmq.asyncio.Socket) -> None:
        if len(self._idle) < self.max_idle_sockets and self._zctx is not None:
            self._idle.append(socket)
        else:
            socket.close(linger=0)

    def _close_idle(self) -> None:
        idle, self._idle = self._idle, []
        for socket in idle:
            socket.close(linger=0)

    def close(self) -> None:
        self._close_idle()
        if self._zctx is not None:
            self._zctx.destroy(linger=0)
            self._zctx = None

    async def request(
        self,
        action: Action,
        params: dict[str, Any] | None = None,
        *,
        request_id: str,
        timeout: float | None = None,
    ) -> Reply:
        """Send one request; the reply envelope (an error reply is a reply, not an exception, unless it
        says FlowMachine is unavailable). `timeout`: seconds to wait, if not the client's own."""
        wait = self.timeout if timeout is None else min(timeout, self.timeout)
        try:
            socket = self._take_socket()
        except zmq.ZMQError as exc:
            raise _unreachable(exc) from None
        answered = False
        try:
            await socket.send(Request(request_id, action, params or {}).to_bytes())
            if not await socket.poll(timeout=int(wait * 1000)):  # POLLIN (the default)
                raise FlowmachineUnavailable(
                    f"FlowMachine did not answer '{action}' within {wait:g} seconds."
                )
            raw = await socket.recv()
            answered = True
        except zmq.ZMQError as exc:
            raise _unreachable(exc) from None
        finally:
            if answered:
                self._give_back(socket)
            else:  # timed out, failed or cancelled mid-call: its REQ state is unknown
                socket.close(linger=0)
        reply = Reply.from_bytes(raw)
        retry_after = reply.retry_after
        if retry_after is not None:
            raise FlowmachineUnavailable(
                reply.msg or "FlowMachine is unavailable just now; try again shortly.",
                detail=f"FlowMachine answered '{action}': {reply.msg} {reply.payload}",
                retry_after=retry_after,
                payload=reply.payload,
            )
        return reply

    # one method per action ----------------------------------------------------------------------------

    async def ping(self, *, request_id: str) -> Reply:
        return await self.request(Action.PING, request_id=request_id)

    async def get_query_schemas(self, *, request_id: str, timeout: float | None = None) -> Reply:
        return await self.request(Action.GET_QUERY_SCHEMAS, request_id=request_id, timeout=timeout)

    async def run_query(self, spec: QuerySpec, *, request_id: str) -> Reply:
        return await self.request(Action.RUN_QUERY, spec, request_id=request_id)

    async def poll_query(self, query_id: str, *, request_id: str) -> Reply:
        return await self.request(
            Action.POLL_QUERY, QueryIdParams(query_id).as_params(), request_id=request_id
        )

    async def get_query_params(self, query_id: str, *, request_id: str) -> Reply:
        return await self.request(
            Action.GET_QUERY_PARAMS, QueryIdParams(query_id).as_params(), request_id=request_id
        )

    async def get_aggregation_unit(self, spec: QuerySpec, *, request_id: str) -> Reply:
        return await self.request(Action.GET_AGGREGATION_UNIT, spec, request_id=request_id)

    async def get_sql_for_query_result(self, query_id: str, *, request_id: str) -> Reply:
        return await self.request(
            Action.GET_SQL_FOR_QUERY_RESULT,
            QueryIdParams(query_id).as_params(),
            request_id=request_id,
        )

    async def get_geo_sql_for_query_result(self, query_id: str, *, request_id: str) -> Reply:
        return await self.request(
            Action.GET_GEO_SQL_FOR_QUERY_RESULT,
            QueryIdParams(query_id).as_params(),
            request_id=request_id,
        )

    async def get_geography(self, aggregation_unit: str, *, request_id: str) -> Reply:
        return await self.request(
            Action.GET_GEOGRAPHY,
            GeographyParams(aggregation_unit).as_params(),
            request_id=request_id,
        )

    async def get_available_dates(self, *, request_id: str) -> Reply:
        return await self.request(Action.GET_AVAILABLE_DATES, request_id=request_id)

    async def list_qa_checks(self, *, request_id: str) -> Reply:
        return await self.request(Action.LIST_QA_CHECKS, request_id=request_id)

    async def get_qa_checks(
        self, *, cdr_type: str, check_type: str, start_date: str, end_date: str, request_id: str
    ) -> Reply:
        params = QaChecksParams(cdr_type, check_type, start_date, end_date)
        return await self.request(Action.GET_QA_CHECKS, params.as_params(), request_id=request_id)

    async def cancel_query(self, query_id: str, *, request_id: str) -> Reply:
        return await self.request(
            Action.CANCEL_QUERY, QueryIdParams(query_id).as_params(), request_id=request_id
        )


def _unreachable(exc: zmq.ZMQError) -> FlowmachineUnavailable:
    return FlowmachineUnavailable(
        "Could not reach FlowMachine; try again shortly.", detail=f"ZeroMQ error: {exc}"
    )
