"""Everything a query needs to run, opened once and passed explicitly: FlowDB pool, Redis, thread pool, lease.

with Context.open(Settings.from_env()) as ctx:
    DailyLocation("2016-01-01", spatial_unit=admin(3)).get_dataframe(ctx)
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import psycopg
import redis
from psycopg_pool import ConnectionPool

from flowmachine.core.errors import FlowMachineError
from flowmachine.core.settings import Settings
from flowmachine.core.state import OwnerLease, StateStore

MINIMUM_FLOWDB_VERSION = (0, 1, 0)


@dataclass
class Context:
    settings: Settings
    pool: ConnectionPool
    redis: redis.Redis
    states: StateStore
    lease: OwnerLease
    executor: ThreadPoolExecutor
    conn_id: str = field(default="")

    @classmethod
    def open(cls, settings: Settings, *, repair: bool = True) -> Context:
        """Connect to FlowDB and Redis; with `repair`, return queries of dead processes to known."""
        conn_id = hashlib.md5(
            f"{settings.flowdb_host}:{settings.flowdb_port}:{settings.flowdb_database}".encode()
        ).hexdigest()
        try:  # one direct attempt first: a refused connection fails at once with the real reason
            psycopg.connect(settings.conninfo(), connect_timeout=10).close()
        except psycopg.Error as exc:
            raise FlowMachineError(
                f"cannot reach FlowDB at {settings.flowdb_host}:{settings.flowdb_port}: "
                f"{str(exc).strip().splitlines()[-1] if str(exc).strip() else exc}"
            ) from None
        pool = ConnectionPool(
            settings.conninfo(),
            min_size=1,
            max_size=settings.pool_size + settings.pool_overflow,
            kwargs={"autocommit": True},
            open=False,
            name="flowmachine",
        )
        try:
            pool.open(wait=True, timeout=15)
        except Exception as exc:
            pool.close()
            raise FlowMachineError(
                f"cannot reach FlowDB at {settings.flowdb_host}:{settings.flowdb_port}: {exc}"
            ) from None
        client = redis.Redis(
            host=settings.redis_host, port=settings.redis_port, password=settings.redis_password
        )
        try:
            client.ping()
        except redis.RedisError as exc:
            pool.close()
            raise FlowMachineError(
                f"cannot reach Redis at {settings.redis_host}:{settings.redis_port}: {exc}"
            ) from None
        states = StateStore(client, conn_id)
        ctx = cls(
            settings=settings,
            pool=pool,
            redis=client,
            states=states,
            lease=OwnerLease(states, settings.owner_lease_seconds),
            executor=ThreadPoolExecutor(
                max_workers=settings.pool_size, thread_name_prefix="flowmachine"
            ),
            conn_id=conn_id,
        )
        if repair:
            from flowmachine.core.cache import recover

            recover(ctx)
        return ctx

    @property
    def owner(self) -> str:
        return self.lease.token

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
        self.lease.release()
        self.pool.close()
        self.redis.close()

    def __enter__(self) -> Context:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
