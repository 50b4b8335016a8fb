"""`flowetl serve`: every interval, load each (day, CDR type) whose data has landed and is not loaded yet.

A day is tried when its data is present and it is neither available (ingested) nor failed `MAX_ATTEMPTS`
times already; a day that failed is tried again at the next look (FlowKit's DAGs retry too), so a file that
was still being written, or a FlowDB that was restarting, costs one interval. Prefect's ephemeral API runs no
scheduler (docs/adr/0010), so this loop is the schedule; with a Prefect server each look is a flow run there.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

from flowetl.config import load_config
from flowetl.flows import DayOutcome, _ensure_pool, days, ingest_day_flow
from flowetl.settings import Settings
from flowetl.sources import data_present

# Failed attempts after which a day is left for an operator (`flowetl run` still loads it on demand).
MAX_ATTEMPTS = 3


def due(
    config_path: str, cdr_types: list[str], start: dt.date, today: dt.date, settings: Settings
) -> list[tuple[str, dt.date]]:
    """The (cdr_type, day) pairs to load now, days in order."""
    config = load_config(config_path)
    with settings.connect() as conn:
        done = {
            (t, d)
            for t, d in conn.execute(
                "SELECT cdr_type, cdr_date FROM etl.available_dates"
            ).fetchall()
        }
        failures: dict[str, int] = dict(
            conn.execute(
                "SELECT cdr_type || ' ' || cdr_date, count(*) FROM etl.etl_records "
                "WHERE state = 'failed' GROUP BY 1"
            ).fetchall()
        )
        pending = []
        for day in days(start, today):
            for cdr_type in cdr_types:
                if (cdr_type, day) in done or failures.get(f"{cdr_type} {day}", 0) >= MAX_ATTEMPTS:
                    continue
                if data_present(conn, config.source(cdr_type), day):
                    pending.append((cdr_type, day))
    return pending


def serve(
    config_path: str,
    cdr_types: list[str],
    start: dt.date,
    settings: Settings,
    *,
    interval: int,
    once: bool = False,
    report: Callable[[DayOutcome], None] | None = None,
    today: Callable[[], dt.date] = lambda: dt.datetime.now(dt.UTC).date(),
) -> list[DayOutcome]:
    """Look, load what is due, sleep `interval` seconds, again (only once with `once`); the outcomes. Prefect
    is first contacted (in ephemeral mode: started, 10-20 s) when something is due."""
    ingest_day = None
    outcomes: list[DayOutcome] = []
    while True:
        for cdr_type, day in due(config_path, cdr_types, start, today(), settings):
            if ingest_day is None:
                _ensure_pool(settings.pool_slots)
                ingest_day = ingest_day_flow()
            outcome = ingest_day(config_path, cdr_type, day)
            outcomes.append(outcome)
            if report is not None:
                report(outcome)
        if once:
            return outcomes
        time.sleep(interval)
