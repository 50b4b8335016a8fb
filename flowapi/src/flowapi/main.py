"""The `flowapi` console script: settings from the environment, JSON logs, hypercorn on FLOWAPI_PORT."""

from __future__ import annotations

import asyncio
import signal
import sys

from hypercorn.asyncio import serve
from hypercorn.config import Config

from flowapi.app import create_app
from flowapi.logs import configure_logging
from flowapi.settings import Settings, SettingsError


def hypercorn_config(settings: Settings) -> Config:
    config = Config()
    config.bind = [f"{settings.bind_address}:{settings.port}"]
    config.accesslog = None  # FlowAPI writes its own structured access log
    config.include_server_header = False  # no `Server: hypercorn-h11` naming the software
    if settings.tls_certificate is not None:
        config.certfile = str(settings.tls_certificate)
        config.keyfile = str(settings.tls_certificate)
    return config


def main() -> None:
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        sys.exit(f"flowapi: {exc}")
    configure_logging(settings.log_level)
    app = create_app(settings)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await serve(app, hypercorn_config(settings), shutdown_trigger=stop.wait)

    asyncio.run(run())


if __name__ == "__main__":
    main()
