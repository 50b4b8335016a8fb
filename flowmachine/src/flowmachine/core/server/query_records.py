"""What every server process must know about a query it did not run itself: the spec it was submitted with.

The spec (exactly as received) is kept in Redis under the query's id, namespaced by FlowDB like the query states,
so any server sharing the Redis and FlowDB answers poll/get/params for any query. A second key says that some
process has taken a run request for the query and holds its owner lease: until the computation queues the query
itself (its dependencies come first), the server reports such a query as queued rather than merely known. A
claim whose owner's lease has lapsed marks a run that died with its process: `abandoned`.
"""

from __future__ import annotations

import json
from typing import Any

from flowmachine.core.state import StateStore


class QueryRecords:
    def __init__(self, states: StateStore) -> None:
        self.states = states
        self.redis = states.redis

    def _spec_key(self, query_id: str) -> str:
        return f"{self.states.prefix}:spec:{query_id}"

    def _submitted_key(self, query_id: str) -> str:
        return f"{self.states.prefix}:submitted:{query_id}"

    def save_spec(self, query_id: str, spec: dict[str, Any]) -> None:
        self.redis.set(self._spec_key(query_id), json.dumps(spec))

    def spec(self, query_id: str) -> dict[str, Any] | None:
        raw = self.redis.get(self._spec_key(query_id))
        return None if raw is None else json.loads(raw)

    def mark_submitted(self, query_id: str, owner: str) -> bool:
        """Claim the run of `query_id` for `owner`; False if a live process already has it."""
        key = self._submitted_key(query_id)
        if self.redis.set(key, owner, nx=True):
            return True
        current = self.redis.get(key)
        if current is not None and self._alive(current.decode()):
            return False
        self.redis.set(key, owner)
        return True

    def clear_submitted(self, query_id: str, owner: str) -> None:
        key = self._submitted_key(query_id)
        current = self.redis.get(key)
        if current is not None and current.decode() == owner:
            self.redis.delete(key)

    def abandoned(self, query_id: str) -> bool:
        """Some process took the run of `query_id` and died before finishing it (its claim outlived its lease)."""
        current = self.redis.get(self._submitted_key(query_id))
        return current is not None and not self._alive(current.decode())

    def claimed_ids(self) -> list[str]:
        """The queries some process (alive or not) has a claim on."""
        prefix = self._submitted_key("")
        return [
            key.decode()[len(prefix) :]
            for key in self.redis.scan_iter(match=f"{prefix}*", count=500)
        ]

    def is_submitted(self, query_id: str) -> bool:
        current = self.redis.get(self._submitted_key(query_id))
        return current is not None and self._alive(current.decode())

    def _alive(self, owner: str) -> bool:
        return bool(self.redis.exists(self.states.lease_key(owner)))
