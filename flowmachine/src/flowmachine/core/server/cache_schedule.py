"""The server's cache-shrinking schedule: `shrink_below_size` every `interval` seconds on a thread of its own.

FlowKit runs the same shrink from a separate `cache-cleanup` service; here the server runs it (an operator can
also run it by hand: `flowmachine cache shrink`). The size comes from FlowDB's cache config (`CACHE_SIZE`), read
again at every run.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from flowmachine.core.cache_eviction import shrink_below_size

if TYPE_CHECKING:
    from flowmachine.core.context import Context

log = logging.getLogger(__name__)


class CacheShrinkSchedule:
    """Shrinks the cache every `interval` seconds (the first run one interval after `start`) until `stop`;
    an interval of 0 never shrinks. One run evicts for at most `time_limit` seconds."""

    def __init__(self, ctx: Context, interval: float, time_limit: float) -> None:
        self._ctx = ctx
        self.interval = interval
        self.time_limit = time_limit
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.interval <= 0 or self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._run, name="flowmachine-cache-shrink", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=self.time_limit + 10)

    def run_once(self) -> list[str]:
        """One shrink; a failure (FlowDB or Redis out of reach) is logged and the next run tries again."""
        try:
            evicted = shrink_below_size(self._ctx, time_limit=self.time_limit)
        except Exception:
            log.exception("cache shrink failed")
            return []
        if evicted:
            log.info("cache shrink evicted %d results", len(evicted))
        return evicted

    def _run(self) -> None:
        while not self._stopping.wait(self.interval):
            self.run_once()
