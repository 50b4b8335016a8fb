"""Per-app state: what `create_app` builds from its settings (FlowMachine client, FlowDB pool, token and spec
caches, loggers), kept under `app.extensions["flowapi"]` and reached from a request with `state()`."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from quart import current_app

from flowapi.auth import VerifiedTokens
from flowapi.logs import ACCESS_LOGGER, DEBUG_LOGGER
from flowapi.query_facts import QueryFacts
from flowapi.results import ResultStore
from flowapi.settings import Settings
from flowapi.spec_cache import SpecCache, fetch_document
from flowapi.zmq_client import FlowmachineClient

EXTENSION = "flowapi"  # the key in `app.extensions`


@dataclass
class AppState:
    settings: Settings
    flowmachine: FlowmachineClient
    results: ResultStore
    facts: QueryFacts
    tokens: VerifiedTokens
    specs: SpecCache
    access_log: logging.Logger
    debug_log: logging.Logger

    @classmethod
    def from_settings(cls, settings: Settings) -> AppState:
        """Fresh state for one app: nothing connects until first used."""
        flowmachine = FlowmachineClient(
            settings.flowmachine_endpoint, timeout=settings.zmq_timeout_seconds
        )
        debug_log = logging.getLogger(DEBUG_LOGGER)
        return cls(
            settings=settings,
            flowmachine=flowmachine,
            results=ResultStore(
                {
                    "host": settings.flowdb_host,
                    "port": settings.flowdb_port,
                    "user": settings.flowdb_user,
                    "password": settings.flowdb_password,
                    "database": settings.flowdb_database,
                },
                pool_size=settings.db_pool_size,
                chunk_rows=settings.result_chunk_rows,
            ),
            facts=QueryFacts(settings.query_facts_bytes),
            tokens=VerifiedTokens(
                key=settings.public_jwt_signing_key, audience=settings.flowapi_identifier
            ),
            specs=SpecCache(
                lambda: fetch_document(flowmachine, audience=settings.flowapi_identifier),
                refresh_seconds=settings.spec_refresh_seconds,
                log=debug_log,
            ),
            access_log=logging.getLogger(ACCESS_LOGGER),
            debug_log=debug_log,
        )

    async def close(self) -> None:
        """Stop the spec fetch under way and close the FlowDB pool and the FlowMachine sockets."""
        await self.specs.close()
        await self.results.close()
        self.flowmachine.close()


def state() -> AppState:
    """The running app's state (inside a request or an app context)."""
    app_state: AppState = current_app.extensions[EXTENSION]
    return app_state
