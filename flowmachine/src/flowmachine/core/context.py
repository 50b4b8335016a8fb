"""Everything a query needs to run, opened once and passed explicitly: FlowDB connections, Redis, thread pool,
lease.

with Context.open(Settings.from_env()) as ctx:
    DailyLocation("2016-01-01", spatial_unit=admin(3)).get_dataframe(ctx)
"""

from __future__ import annotations

import hashlib
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import psycopg
import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from flowmachine.core.cache_tables import recover
from flowmachine.core.connections import FlowDBConnections
from flowmachine.core.errors import FlowMachineError
from flowmachine.core.settings import Settings
from flowmachine.core.state import OwnerLease, StateStore

MINIMUM_FLOWDB_VERSION = (0, 1, 0)


# Each process's connections carry `flowmachine:<owner token>` as their application name, so the statements
# of a process that died (its owner lease lapsed) can be found in pg_stat_activity and stopped (`orphans`).
APPLICATION_PREFIX = "flowmachine:"


@dataclass
class Context:
    settings: Settings
    pool: FlowDBConnections
    redis: redis.Redis
    states: StateStore
    lease: OwnerLease
    executor: ThreadPoolExecutor
    conn_id: str = field(default="")

    @classmethod
    def open(cls, settings: Settings, *, repair: bool = True) -> Context:
        """Connect to FlowDB and Redis; with `repair`, return queries of dead processes to known and stop
        the statements those processes left running."""
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
        client = redis.Redis(
            host=settings.redis_host,
            port=settings.redis_port,
            password=settings.redis_password,
            socket_connect_timeout=2,
            socket_timeout=30,
            health_check_interval=10,
            # two quick tries of its own (redis-py's default, ten, took 7-9 s to say Redis is down): the
            # callers try again where it makes sense (core/transient.py)
            retry=Retry(ExponentialBackoff(cap=0.2, base=0.02), 2),
        )
        try:
            client.ping()
        except redis.RedisError as exc:
            raise FlowMachineError(
                f"cannot reach Redis at {settings.redis_host}:{settings.redis_port}: {exc}"
            ) from None
        token = uuid.uuid4().hex
        pool = FlowDBConnections(
            settings.conninfo(application_name=APPLICATION_PREFIX + token),
            compute_slots=settings.pool_size,
            spare=settings.pool_overflow,
        )
        try:
            pool.open(timeout=15)
        except Exception as exc:
            pool.close()
            raise FlowMachineError(
                f"cannot reach FlowDB at {settings.flowdb_host}:{settings.flowdb_port}: {exc}"
            ) from None
        states = StateStore(client, conn_id)
        ctx = cls(
            settings=settings,
            pool=pool,
            redis=client,
            states=states,
            lease=OwnerLease(states, settings.owner_lease_seconds, token=token),
            executor=ThreadPoolExecutor(
                max_workers=settings.pool_size, thread_name_prefix="flowmachine"
            ),
            conn_id=conn_id,
        )
        if repair:
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
