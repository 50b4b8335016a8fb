"""Fill a FlowDB with synthetic data: geography, infrastructure, then events from the chosen generator.

A run replaces every event partition, ETL record and the synthetic world, and empties FlowMachine's result
cache (a FlowMachine server still running recomputes a result whose table it finds gone), so re-running it is
safe; if it fails part-way, the events it had written are removed again and the database is left consistent.
The generators load days without analysing them; one ANALYZE per parent at the end covers every partition (the
parents are analysed side by side, one connection per worker).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import psycopg
from psycopg import sql

from flowdb.synthetic.config import SyntheticConfig
from flowdb.synthetic.loading import CDR_TYPES, analyze_parents

Progress = Callable[[str], None]
ConnectionFactory = Callable[[], psycopg.Connection]


@dataclass(frozen=True)
class Report:
    rows: dict[str, int]
    seconds: float
    world_seconds: float
    events_seconds: float
    analyze_seconds: float

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def clear_events(conn: psycopg.Connection) -> None:
    """Drop every day partition, forget every ingested date and empty FlowMachine's result cache (its results
    describe the events being replaced), in one transaction."""
    with conn.transaction():
        results = conn.execute(
            """SELECT tablename FROM pg_tables WHERE schemaname = 'cache' AND tablename ~ '^x'
               UNION SELECT tablename FROM cache.cached WHERE schema = 'cache'"""
        ).fetchall()
        for (name,) in results:
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier("cache", name)))
        conn.execute("DELETE FROM cache.cached")
        for cdr_type in CDR_TYPES:
            children = conn.execute(
                """SELECT n.nspname, c.relname FROM pg_inherits i
                   JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                   WHERE i.inhparent = %s::regclass ORDER BY c.relname""",
                (f"events.{cdr_type}",),
            ).fetchall()
            for schema, name in children:
                conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(schema, name)))
        conn.execute("DELETE FROM etl.post_etl_queries")
        conn.execute("DELETE FROM etl.etl_records")
        conn.execute("TRUNCATE events.location_ids")
        conn.execute(
            "UPDATE public.available_tables SET has_locations = false, has_subscribers = false, "
            "has_counterparts = false"
        )


def _analyze(connect: ConnectionFactory, cdr_types: list[str], workers: int) -> None:
    """VACUUM and ANALYZE the loaded parents (and the dfs tables), one type per connection, `workers` at a
    time: each is one process's work, and an ANALYZE of a few million rows takes seconds."""

    def one(cdr_type: str | None) -> None:
        with connect() as conn:
            if cdr_type is None:
                conn.execute("ANALYZE dfs.transactions, dfs.transactions_metadata, dfs.subscribers")
            else:
                analyze_parents(conn, (cdr_type,))

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for future in [pool.submit(one, t) for t in [*cdr_types, None]]:
            future.result()


def generate(
    connect: ConnectionFactory,
    config: SyntheticConfig,
    *,
    workers: int = 2,
    progress: Progress | None = None,
    native_library: str | Path | None = None,
    operator_files: Path | None = None,
) -> Report:
    """Build the world and the events described by `config`. `connect` opens superuser connections. The SQL
    generator makes its rows with `native_library` when given (flowdb.synthetic.native). With
    `operator_files`, the day after the configured days is generated too and written to that folder as an
    operator's files, with the FlowETL configuration that ingests them (flowdb.synthetic.operator_files)."""
    from flowdb.synthetic.dfs import build_dfs
    from flowdb.synthetic.geography import build_geography
    from flowdb.synthetic.infrastructure import CELL_REGIONS_SQL, build_infrastructure
    from flowdb.synthetic.operator_files import OperatorFiles

    say = progress or (lambda message: None)
    started = time.monotonic()
    with connect() as conn:
        clear_events(conn)
        with conn.transaction():
            build_geography(conn, config)
            build_infrastructure(conn, config)
        conn.execute(
            "ANALYZE geography.admin0, geography.admin1, geography.admin2, geography.admin3"
        )
        conn.execute("ANALYZE infrastructure.sites, infrastructure.cells, infrastructure.tacs")
    world_done = time.monotonic()
    say(
        f"geography ({config.n_admin1}/{config.n_admin2}/{config.n_admin3} admin units), "
        f"{config.n_sites:,} sites, {config.n_cells:,} cells, {config.n_tacs:,} TACs "
        f"in {world_done - started:.1f} s"
    )
    say(
        f"{config.generator} generator: {config.n_days} days x {config.rows_per_day:,} rows/day "
        f"for {config.n_subscribers:,} subscribers"
    )
    files = None
    loaded_config = config
    if operator_files is not None:
        config = replace(config, n_days=config.n_days + 1)
        files = OperatorFiles(Path(operator_files), frozenset({config.dates[-1]}))
        files.prepare(tuple(t for t, n in config.events_per_day.items() if n > 0))
    try:
        if config.generator == "sql":
            from flowdb.synthetic.sql_generator import generate_sql

            rows = generate_sql(
                connect,
                config,
                CELL_REGIONS_SQL,
                workers=workers,
                progress=say,
                native_library=native_library,
                files=files,
            )
        else:
            from flowdb.synthetic.python_generator import World, generate_python

            with connect() as conn:
                world = World.from_db(conn, CELL_REGIONS_SQL)
                rows = generate_python(
                    conn,
                    config,
                    world,
                    progress=say,
                    connect=connect,
                    loaders=max(1, workers),
                    files=files,
                )
        events_done = time.monotonic()
        with connect() as conn, conn.transaction():
            n_dfs = build_dfs(conn, loaded_config)
        if n_dfs:
            say(f"dfs: {n_dfs:,} mobile-money transactions")
        _analyze(connect, [t for t in CDR_TYPES if rows.get(t)], workers)
    except BaseException:
        with connect() as conn:
            clear_events(conn)
        raise
    finished = time.monotonic()
    return Report(
        rows=rows,
        seconds=finished - started,
        world_seconds=world_done - started,
        events_seconds=events_done - world_done,
        analyze_seconds=finished - events_done,
    )
