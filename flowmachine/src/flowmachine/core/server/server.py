"""The FlowMachine server: a ZeroMQ ROUTER speaking FlowKit 1.34's JSON protocol (see messages, action_handlers).

A valid message is three frames, `[peer identity, b"", json]` (what a REQ socket sends); anything else is logged
and dropped. Each request is answered from its own asyncio task, the handler running on the server's thread pool,
so a slow action never holds up the others and replies may leave out of order across peers.

    flowmachine            # console script: settings from the environment (FLOWMACHINE_PORT, ...)
    flowmachine cache ...  # cache commands instead of the server (`flowmachine.core.cache_cli`)
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import zmq
import zmq.asyncio

from flowmachine.core import cache_cli
from flowmachine.core.context import Context
from flowmachine.core.errors import FlowMachineError
from flowmachine.core.server.action_handlers import ACTION_HANDLERS, ServerContext, perform_action
from flowmachine.core.server.cache_schedule import CacheShrinkSchedule
from flowmachine.core.server.messages import InvalidRequest, parse_request
from flowmachine.core.server.plugins import load_plugins
from flowmachine.core.settings import Settings

log = logging.getLogger(__name__)


def _flag(env: Mapping[str, str], name: str) -> bool:
    return env.get(name, "").strip().lower() == "true"


def _seconds(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    try:
        value = int(raw) if raw else default
    except ValueError:
        raise FlowMachineError(f"{name} must be a whole number of seconds, got {raw!r}") from None
    if value < 0:
        raise FlowMachineError(f"{name} must not be negative, got {value}")
    return value


@dataclass(frozen=True)
class ServerSettings:
    port: int = 5555
    # The interface to bind: 127.0.0.1 for development, "*" (every interface) in a container.
    bind_address: str = "127.0.0.1"
    # Threads answering requests (None: Python's default); queries compute on the context's own pool.
    threadpool_size: int | None = None
    debug_mode: bool = False
    store_dependencies: bool = True
    # FlowKit's order (every dependency stored before the query) instead of answering first (ADR 7).
    dependencies_first: bool = False
    log_level: str = "error"
    # Seconds between cache shrinks (0: never) and the longest one shrink may evict for (FlowKit's names).
    cache_shrink_interval: int = 86400
    cache_shrink_time_limit: int = 600

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ServerSettings:
        env = os.environ if env is None else env
        raw_port = env.get("FLOWMACHINE_PORT", "").strip() or "5555"
        try:
            port = int(raw_port)
        except ValueError:
            raise FlowMachineError(
                f"FLOWMACHINE_PORT must be an integer, got {raw_port!r}"
            ) from None
        try:  # FlowKit ignores a non-integer pool size
            threads: int | None = int(env.get("FLOWMACHINE_SERVER_THREADPOOL_SIZE", ""))
        except ValueError:
            threads = None
        intervals = {
            name: _seconds(env, name, default)
            for name, default in (
                ("FLOWMACHINE_CACHE_PRUNING_FREQUENCY", 86400),
                ("FLOWMACHINE_CACHE_PRUNING_TIMEOUT", 600),
            )
        }
        return cls(
            port=port,
            bind_address=env.get("FLOWMACHINE_SERVER_BIND_ADDRESS", "").strip() or "127.0.0.1",
            threadpool_size=threads if threads and threads > 0 else None,
            debug_mode=_flag(env, "FLOWMACHINE_SERVER_DEBUG_MODE"),
            store_dependencies=not _flag(env, "FLOWMACHINE_SERVER_DISABLE_DEPENDENCY_CACHING"),
            dependencies_first=_flag(env, "FLOWMACHINE_SERVER_STORE_DEPENDENCIES_FIRST"),
            log_level=env.get("FLOWMACHINE_LOG_LEVEL", "").strip() or "error",
            cache_shrink_interval=intervals["FLOWMACHINE_CACHE_PRUNING_FREQUENCY"],
            cache_shrink_time_limit=intervals["FLOWMACHINE_CACHE_PRUNING_TIMEOUT"],
        )

    @property
    def endpoint(self) -> str:
        return f"tcp://{self.bind_address}:{self.port}"


class FlowmachineServer:
    """Answers requests on a ROUTER socket until `stop()`; the FlowMachine context is passed in."""

    def __init__(self, ctx: Context, settings: ServerSettings) -> None:
        self.settings = settings
        self.server = ServerContext(
            ctx,
            store_dependencies=settings.store_dependencies,
            dependencies_first=settings.dependencies_first,
        )
        self.server.resume_abandoned()  # runs a dead process had taken on, e.g. this server's before a crash
        self.cache_schedule = CacheShrinkSchedule(
            ctx, settings.cache_shrink_interval, settings.cache_shrink_time_limit
        )
        self._executor = ThreadPoolExecutor(
            max_workers=settings.threadpool_size, thread_name_prefix="flowmachine-server"
        )
        self._stopping: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.bound = threading.Event()

    async def serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        zctx = zmq.asyncio.Context()
        socket = zctx.socket(zmq.ROUTER)
        socket.setsockopt(zmq.LINGER, 0)
        tasks: set[asyncio.Task[None]] = set()
        try:
            socket.bind(self.settings.endpoint)
            log.info("flowmachine server listening on %s", self.settings.endpoint)
            self.bound.set()
            self.cache_schedule.start()
            while not self._stopping.is_set():
                if not await socket.poll(timeout=200):
                    continue
                frames = await socket.recv_multipart()
                task = asyncio.create_task(self._answer(socket, frames))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        finally:
            for task in tasks:
                task.cancel()
            socket.close(linger=0)
            zctx.term()
            self.cache_schedule.stop()
            self._executor.shutdown(wait=False, cancel_futures=True)
            self.server.close()

    async def _answer(self, socket: zmq.asyncio.Socket, frames: list[bytes]) -> None:
        if len(frames) != 3 or frames[1] != b"":
            log.warning("dropped a message of %d frames (not from a REQ socket)", len(frames))
            return
        identity, _, raw = frames
        try:
            request = parse_request(raw, frozenset(ACTION_HANDLERS))
        except InvalidRequest as exc:
            reply = exc.reply
        else:
            loop = asyncio.get_running_loop()
            reply = await loop.run_in_executor(self._executor, perform_action, self.server, request)
        await socket.send_multipart([identity, b"", reply.to_bytes()])

    def stop(self) -> None:
        """Ask the loop to finish (safe from any thread)."""
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)


def run_server(ctx: Context, settings: ServerSettings) -> None:
    """Load query kind plugins, then serve until SIGINT or SIGTERM (the context is closed by the caller)."""
    load_plugins()
    server = FlowmachineServer(ctx, settings)

    async def serve_until_signalled() -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, server.stop)
        await server.serve()

    asyncio.run(serve_until_signalled(), debug=settings.debug_mode)


def build_parser() -> argparse.ArgumentParser:
    """The `flowmachine` command line: no arguments runs the server; `flowmachine cache ...` a cache command."""
    parser = argparse.ArgumentParser(
        prog="flowmachine",
        description="The FlowMachine server (settings from the environment), or a cache command.",
    )
    cache_cli.add_parser(parser.add_subparsers(dest="component", metavar="COMMAND"))
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """The `flowmachine` console script."""
    args = build_parser().parse_args(argv)
    if args.component == "cache":
        raise SystemExit(cache_cli.run(args))
    settings = ServerSettings.from_env()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    with Context.open(Settings.from_env()) as ctx:
        run_server(ctx, settings)


if __name__ == "__main__":
    main()
