"""`autoflow serve`: the sensor at every time of its cron schedule (UTC), as FlowKit's scheduled sensor flow.

Prefect's ephemeral API runs no scheduler, so this loop is the schedule (as `flowetl serve`); with a Prefect
server (`PREFECT_API_URL`) each look is a flow run there. The first look is at start (FlowKit's waited for the
first cron time); a schedule of null looks once and stops, as FlowKit's.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable

from autoflow.config import Config
from autoflow.sensor import SensorResult

log = logging.getLogger("autoflow.serve")


def next_time(cron: str, after: dt.datetime) -> dt.datetime:
    """The first time after `after` that `cron` (UTC) names; the cron parser Prefect's CronSchedule uses."""
    from prefect._vendor.croniter import croniter

    return croniter(cron, after.astimezone(dt.UTC)).get_next(dt.datetime)


def serve(
    config: Config,
    look: Callable[[], SensorResult],
    *,
    once: bool = False,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    sleep: Callable[[float], None] = time.sleep,
    max_looks: int | None = None,
) -> list[SensorResult]:
    """Look now, then at each time of the schedule (once only with `once` or no schedule); the looks' results
    (kept only up to `max_looks`, which also ends the loop: for tests)."""
    results: list[SensorResult] = []
    while True:
        result = look()
        results.append(result)
        schedule = config.sensor.schedule
        if once or schedule is None or (max_looks is not None and len(results) >= max_looks):
            return results
        wake = next_time(schedule, now())
        log.info("next look at %s", wake)
        sleep(max(0.0, (wake - now()).total_seconds()))
