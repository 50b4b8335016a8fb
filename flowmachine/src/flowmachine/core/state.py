"""Query states in Redis, shared by every FlowMachine process that uses the same FlowDB.

    known → queued → executing → completed | errored | cancelled;  completed | errored | cancelled → resetting → known

Each transition is one Lua script, so it is atomic: when several processes try to queue the same query, exactly
one succeeds and computes it; the others wait. A transition publishes the new state on the query's channel, so
waiters wake at once instead of polling.

A process that queues or executes a query records itself as the owner. Its claim lives as a Redis key with a
short TTL that a heartbeat thread renews (`OwnerLease`); if the process dies, the lease lapses and
`repair` (run at start-up, and by any waiter that notices) returns its queries to known.
"""

from __future__ import annotations

import enum
import threading
import time
import uuid
from dataclasses import dataclass

import redis

# The states are the protocol's (FlowAPI reads the same names); `awol` is never stored, only replied.
from flowkit_protocol import QueryState


class QueryEvent(enum.StrEnum):
    QUEUE = "queue"
    EXECUTE = "execute"
    FINISH = "finish"
    ERROR = "error"
    CANCEL = "cancel"
    RESET = "reset"
    FINISH_RESETTING = "finish_resetting"


S = QueryState
TRANSITIONS: dict[QueryEvent, dict[QueryState, QueryState]] = {
    QueryEvent.QUEUE: {S.KNOWN: S.QUEUED},
    QueryEvent.EXECUTE: {S.QUEUED: S.EXECUTING},
    QueryEvent.FINISH: {S.EXECUTING: S.COMPLETED},
    QueryEvent.ERROR: {S.EXECUTING: S.ERRORED, S.QUEUED: S.ERRORED},
    QueryEvent.CANCEL: {S.QUEUED: S.CANCELLED, S.EXECUTING: S.CANCELLED},
    QueryEvent.RESET: {S.COMPLETED: S.RESETTING, S.ERRORED: S.RESETTING, S.CANCELLED: S.RESETTING},
    QueryEvent.FINISH_RESETTING: {S.RESETTING: S.KNOWN},
}
IN_FLIGHT = frozenset({S.QUEUED, S.EXECUTING, S.RESETTING})


def redis_text(value: bytes | str) -> str:
    """A value read from Redis as text: our clients return bytes (redis-py's types allow for a client that
    decodes responses itself)."""
    return value.decode() if isinstance(value, bytes) else value


# KEYS: state hash, channel. ARGV: event's from->to pairs (flattened), owner, message, backend pid, retryable.
# Returns {1, new state} if the transition happened, else {0, current state}.
_TRANSITION = """
local current = redis.call('HGET', KEYS[1], 'state') or 'known'
local target = nil
for i = 1, #ARGV - 4, 2 do
    if ARGV[i] == current then target = ARGV[i + 1] end
end
if not target then return {0, current} end
local now = redis.call('TIME')
redis.call('HSET', KEYS[1], 'state', target, 'updated', now[1])
local owner, message, pid, retryable = ARGV[#ARGV - 3], ARGV[#ARGV - 2], ARGV[#ARGV - 1], ARGV[#ARGV]
if target == 'queued' or target == 'executing' or target == 'resetting' then
    redis.call('HSET', KEYS[1], 'owner', owner)
else
    redis.call('HDEL', KEYS[1], 'owner')
end
-- The backend pid stays while cancelling, so a canceller can read it after its transition.
if target == 'queued' or target == 'completed' or target == 'known' then redis.call('HDEL', KEYS[1], 'pid') end
if target == 'queued' or target == 'known' then redis.call('HDEL', KEYS[1], 'message', 'retryable') end
if message ~= '' then redis.call('HSET', KEYS[1], 'message', message) end
if pid ~= '' then redis.call('HSET', KEYS[1], 'pid', pid) end
if retryable ~= '' then redis.call('HSET', KEYS[1], 'retryable', '1') end
redis.call('PUBLISH', KEYS[2], target)
return {1, target}
"""

# KEYS: state hash, channel. ARGV: owner. A queued or executing query the owner gave up on after a transient
# failure goes back to known, so the next try (its own or any process's) can take it. Returns 1 if it did.
_RELEASE = """
local current = redis.call('HGET', KEYS[1], 'state') or 'known'
if current ~= 'queued' and current ~= 'executing' then return 0 end
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'state', 'known', 'updated', redis.call('TIME')[1])
redis.call('HDEL', KEYS[1], 'owner', 'pid', 'message', 'retryable')
redis.call('PUBLISH', KEYS[2], 'known')
return 1
"""

# KEYS: state hash, channel, owner lease key of the recorded owner. Returns 1 if the query was returned to known.
_REPAIR = """
local current = redis.call('HGET', KEYS[1], 'state') or 'known'
if current ~= 'queued' and current ~= 'executing' and current ~= 'resetting' then return 0 end
if redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'state', 'known', 'updated', redis.call('TIME')[1])
redis.call('HDEL', KEYS[1], 'owner', 'pid', 'message')
redis.call('PUBLISH', KEYS[2], 'known')
return 1
"""

# KEYS: state hash, channel. Force a state (used to adopt a cache table whose Redis state was lost).
_ADOPT = """
local current = redis.call('HGET', KEYS[1], 'state') or 'known'
if current ~= 'known' then return {0, current} end
redis.call('HSET', KEYS[1], 'state', 'completed', 'updated', redis.call('TIME')[1])
redis.call('PUBLISH', KEYS[2], 'completed')
return {1, 'completed'}
"""


@dataclass(frozen=True)
class StateInfo:
    state: QueryState
    owner: str | None = None
    message: str | None = None
    pid: int | None = None
    # errored for a transient reason (FlowDB or Redis out of reach): submitting it again runs it again
    retryable: bool = False


class StateStore:
    """Query states of one FlowDB (namespaced by `conn_id`) in one Redis."""

    def __init__(self, client: redis.Redis, conn_id: str) -> None:
        self.redis = client
        self.prefix = f"flowmachine:{conn_id}"
        self._transition = client.register_script(_TRANSITION)
        self._repair = client.register_script(_REPAIR)
        self._adopt = client.register_script(_ADOPT)
        self._release = client.register_script(_RELEASE)

    def key(self, query_id: str) -> str:
        return f"{self.prefix}:query:{query_id}"

    def channel(self, query_id: str) -> str:
        return f"{self.prefix}:changed:{query_id}"

    def lease_key(self, owner: str) -> str:
        return f"{self.prefix}:owner:{owner}"

    def info(self, query_id: str) -> StateInfo:
        raw = self.redis.hgetall(self.key(query_id))
        fields = {redis_text(k): redis_text(v) for k, v in raw.items()}
        return StateInfo(
            state=QueryState(fields.get("state", "known")),
            owner=fields.get("owner"),
            message=fields.get("message"),
            pid=int(fields["pid"]) if fields.get("pid") else None,
            retryable=fields.get("retryable") == "1",
        )

    def state(self, query_id: str) -> QueryState:
        raw = self.redis.hget(self.key(query_id), "state")
        return QueryState(redis_text(raw)) if raw else QueryState.KNOWN

    def trigger(
        self,
        query_id: str,
        event: QueryEvent,
        *,
        owner: str = "",
        message: str = "",
        pid: int | None = None,
        retryable: bool = False,
    ) -> tuple[bool, QueryState]:
        """Apply `event`; return whether it changed the state, and the state now. `retryable` marks an
        error as transient (see `flowmachine.core.transient`)."""
        pairs = [s for pair in TRANSITIONS[event].items() for s in pair]
        changed, state = self._transition(
            keys=[self.key(query_id), self.channel(query_id)],
            args=[
                *pairs,
                owner,
                message,
                "" if pid is None else str(pid),
                "1" if retryable else "",
            ],
        )
        return bool(changed), QueryState(state.decode())

    def release(self, query_id: str, owner: str) -> bool:
        """Return a query `owner` queued or is executing to known (it gave up after a transient failure)."""
        return bool(self._release(keys=[self.key(query_id), self.channel(query_id)], args=[owner]))

    def set_pid(self, query_id: str, pid: int) -> None:
        self.redis.hset(self.key(query_id), "pid", str(pid))

    def adopt_completed(self, query_id: str) -> bool:
        changed, _ = self._adopt(keys=[self.key(query_id), self.channel(query_id)])
        return bool(changed)

    def repair(self, query_id: str) -> bool:
        """Return a queued/executing query to known if the process that owned it is gone."""
        owner = self.redis.hget(self.key(query_id), "owner")
        lease = self.lease_key(redis_text(owner)) if owner else f"{self.prefix}:owner:-"
        return bool(self._repair(keys=[self.key(query_id), self.channel(query_id), lease]))

    def repair_all(self) -> list[str]:
        """Repair every in-flight query whose owner is gone; return their ids."""
        repaired = []
        for key in self.redis.scan_iter(match=f"{self.prefix}:query:*", count=500):
            query_id = key.decode().rsplit(":", 1)[1]
            if self.repair(query_id):
                repaired.append(query_id)
        return repaired

    def forget(self, query_id: str) -> None:
        self.redis.delete(self.key(query_id))

    def wait_while_in_flight(self, query_id: str, timeout: float | None = None) -> QueryState:
        """Block until the query is neither queued, executing nor resetting; return that state.

        Wakes on the query's channel; every few seconds it also checks that the owner is alive, so a waiter never
        hangs on a query whose process died.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(self.channel(query_id))
        try:
            while True:
                state = self.state(query_id)
                if state not in IN_FLIGHT:
                    return state
                if self.repair(query_id):
                    continue
                wait = 2.0
                if deadline is not None:
                    wait = min(wait, deadline - time.monotonic())
                    if wait <= 0:
                        from flowmachine.core.errors import StateTimeoutError

                        raise StateTimeoutError(
                            f"query {query_id} is still {state} after {timeout:.0f} s"
                        )
                pubsub.get_message(timeout=wait)
        finally:
            pubsub.close()


class OwnerLease:
    """This process's claim on the queries it runs: a Redis key with a TTL, renewed by a daemon thread."""

    def __init__(self, states: StateStore, lease_seconds: int, token: str | None = None) -> None:
        self.states = states
        self.token = token or uuid.uuid4().hex
        self.lease_seconds = lease_seconds
        self._stop = threading.Event()
        self._renew()
        self._thread = threading.Thread(target=self._run, name="flowmachine-lease", daemon=True)
        self._thread.start()

    def _renew(self) -> None:
        self.states.redis.set(self.states.lease_key(self.token), "1", ex=self.lease_seconds)

    def _run(self) -> None:
        while not self._stop.wait(self.lease_seconds / 3):
            try:
                self._renew()
            except redis.RedisError:
                continue

    def release(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        try:
            self.states.redis.delete(self.states.lease_key(self.token))
        except redis.RedisError:
            pass
