"""What every server process must know about a query it did not run itself: the spec it was submitted with.

The spec (exactly as received) is kept in Redis under the query's id, namespaced by FlowDB like the query states,
so any server sharing the Redis and FlowDB answers poll/get/params for any query. It is also kept in FlowDB
(`cache.query_specs`), so a Redis that lost its data loses nothing: a spec missing from Redis is looked up there
and put back (`restore`). A second key says that some
process has taken a run request for the query and holds its owner lease: until the computation queues the query
itself (its dependencies come first), the server reports such a query as queued rather than merely known. A
claim whose owner's lease has lapsed marks a run that died with its process: `abandoned`.
"""

from __future__ import annotations

import json
from typing import Any

from psycopg.types.json import Jsonb

from flowmachine.core.connections import FlowDBConnections
from flowmachine.core.state import StateStore, redis_text


class QueryRecords:
    def __init__(self, states: StateStore, connections: FlowDBConnections) -> None:
        self.states = states
        self.redis = states.redis
        self.connections = connections

    def _spec_key(self, query_id: str) -> str:
        return f"{self.states.prefix}:spec:{query_id}"

    def _submitted_key(self, query_id: str) -> str:
        return f"{self.states.prefix}:submitted:{query_id}"

    def save_spec(self, query_id: str, spec: dict[str, Any]) -> None:
        """Keep the spec (the latest one submitted for this id) in Redis and, when Redis had another or
        none, in FlowDB: a spec submitted again costs no FlowDB round trip."""
        text = json.dumps(spec)
        key = self._spec_key(query_id)
        before = self.redis.get(key)
        if before is not None and redis_text(before) == text:
            return
        # FlowDB first: a spec Redis has is always in FlowDB too, even if this call fails half way
        with self.connections.connection() as conn:
            conn.execute(
                "INSERT INTO cache.query_specs (query_id, spec) VALUES (%s, %s) "
                "ON CONFLICT (query_id) DO UPDATE SET spec = excluded.spec",
                (query_id, Jsonb(spec)),
            )
        self.redis.set(key, text)

    def spec(self, query_id: str) -> dict[str, Any] | None:
        """The spec a query was submitted with, from Redis (None if Redis does not have it)."""
        raw = self.redis.get(self._spec_key(query_id))
        return None if raw is None else json.loads(raw)

    def restore(self, query_id: str) -> dict[str, Any] | None:
        """The spec of a query Redis has no record of, from FlowDB, put back into Redis (None if FlowDB has
        none either: no server here was ever asked to run it)."""
        with self.connections.connection() as conn:
            row = conn.execute(
                "SELECT spec FROM cache.query_specs WHERE query_id = %s", (query_id,)
            ).fetchone()
        if row is None:
            return None
        self.redis.set(self._spec_key(query_id), json.dumps(row[0]), nx=True)
        return row[0]

    def restore_cached(self) -> int:
        """At start-up: put back into Redis the spec of every query whose result FlowDB holds (after Redis
        lost its data, every completed query answers again at once); how many were missing."""
        with self.connections.connection() as conn:
            rows = conn.execute(
                """SELECT s.query_id, s.spec FROM cache.query_specs s
                   JOIN cache.cached c USING (query_id)
                   WHERE to_regclass(format('%I.%I', c.schema, c.tablename)) IS NOT NULL"""
            ).fetchall()
        pipe = self.redis.pipeline(transaction=False)
        for query_id, spec in rows:
            pipe.set(self._spec_key(query_id), json.dumps(spec), nx=True)
        return sum(bool(done) for done in pipe.execute()) if rows else 0

    def mark_submitted(self, query_id: str, owner: str) -> bool:
        """Claim the run of `query_id` for `owner`; False if a live process already has it."""
        key = self._submitted_key(query_id)
        if self.redis.set(key, owner, nx=True):
            return True
        current = self.redis.get(key)
        if current is not None and self._alive(redis_text(current)):
            return False
        self.redis.set(key, owner)
        return True

    def reclaim(self, query_id: str, owner: str) -> None:
        """Claim the run of `query_id` for `owner` again if the claim is gone (Redis lost its data while the
        run was under way): the query reads as queued, not known, while it runs."""
        self.redis.set(self._submitted_key(query_id), owner, nx=True)

    def clear_submitted(self, query_id: str, owner: str) -> None:
        key = self._submitted_key(query_id)
        current = self.redis.get(key)
        if current is not None and redis_text(current) == owner:
            self.redis.delete(key)

    def abandoned(self, query_id: str) -> bool:
        """Some process took the run of `query_id` and died before finishing it (its claim outlived its lease)."""
        current = self.redis.get(self._submitted_key(query_id))
        return current is not None and not self._alive(redis_text(current))

    def claimed_ids(self) -> list[str]:
        """The queries some process (alive or not) has a claim on."""
        prefix = self._submitted_key("")
        return [
            key.decode()[len(prefix) :]
            for key in self.redis.scan_iter(match=f"{prefix}*", count=500)
        ]

    def is_submitted(self, query_id: str) -> bool:
        current = self.redis.get(self._submitted_key(query_id))
        return current is not None and self._alive(redis_text(current))

    def _alive(self, owner: str) -> bool:
        return bool(self.redis.exists(self.states.lease_key(owner)))
