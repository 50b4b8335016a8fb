"""Roles, passwords and grants, reconciled on every start so the environment is always what holds.

The grant matrix is FlowKit's (reference/flowdb.md §2.1) with two least-privilege deviations recorded in
docs/compatibility.md: `flowapi` gets neither CREATE on the database nor on `public`.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from flowdb import RELEASE_DATE, __version__
from flowdb.custom_geography import reconcile_custom_geography
from flowdb.rows import scalar
from flowdb.settings import (
    DATABASE,
    EVENTS_OWNER_ROLE,
    FLOWETL_ROLE,
    FLOWMACHINE_ROLE,
    Settings,
)
from flowdb.tuning import MB, compute_tuning

# Schemas flowmachine may write (results, derived geography and rasters, differentially private releases) and
# schemas it may only read.
WRITABLE_SCHEMAS = ("cache", "geography", "population", "elevation", "dp")
READABLE_SCHEMAS = ("events", "infrastructure", "routing", "etl", "dfs", "interactions")
# Cache bookkeeping: FlowMachine's own, never readable by the API role.
CACHE_BOOKKEEPING = ("cached", "dependencies", "cache_config", "query_specs")


def _ensure_login_role(conn: psycopg.Connection, role: str, password: str) -> None:
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
    verb = "ALTER" if exists else "CREATE"
    conn.execute(
        sql.SQL("{} ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT PASSWORD {}").format(
            sql.SQL(verb), sql.Identifier(role), sql.Literal(password)
        )
    )


def _existing_schemas(conn: psycopg.Connection, names: tuple[str, ...]) -> list[str]:
    rows = conn.execute(
        "SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s) ORDER BY nspname", (list(names),)
    ).fetchall()
    return [r[0] for r in rows]


def flowmachine_limits(settings: Settings) -> dict[str, str]:
    """`temp_file_limit` and `statement_timeout` for every session of the flowmachine role.

    temp_file_limit bounds each process (a statement's parallel workers have one each); by default a
    statement with all its workers may fill a quarter of the free space on the data directory's filesystem
    (measured at start), so that no single query fills the disk. statement_timeout is in seconds (0: off).
    """
    limit = settings.flowmachine_temp_file_limit
    if limit is None:
        import shutil

        processes = 1 + int(compute_tuning(settings.env).values["max_parallel_workers_per_gather"])
        free = shutil.disk_usage(settings.data_dir).free
        limit = f"{max(1, free // 4 // processes // MB)}MB"
    return {
        "temp_file_limit": limit,
        "statement_timeout": f"{settings.flowmachine_statement_timeout}s",
    }


def reconcile(conn: psycopg.Connection, settings: Settings) -> None:
    """Create or update the roles and (re)apply every grant. Idempotent; run as the superuser."""
    fm = sql.Identifier(FLOWMACHINE_ROLE)
    api = sql.Identifier(settings.flowapi_user)
    owner = sql.Identifier(settings.superuser)
    db = sql.Identifier(DATABASE)
    with conn.transaction():
        conn.execute(
            sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                owner, sql.Literal(settings.superuser_password)
            )
        )
        _ensure_login_role(conn, FLOWMACHINE_ROLE, settings.flowmachine_password)
        _ensure_login_role(conn, settings.flowapi_user, settings.flowapi_password)
        # No statement of FlowMachine's may fill the disk or run for ever (temp_file_limit needs a
        # superuser to set, so FlowMachine cannot lift it); new sessions take the values.
        for name, value in flowmachine_limits(settings).items():
            conn.execute(
                sql.SQL("ALTER ROLE {} SET {} = {}").format(
                    fm, sql.Identifier(name), sql.Literal(value)
                )
            )

        conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(db))
        conn.execute(
            sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}, {}").format(db, fm, api)
        )
        conn.execute(sql.SQL("GRANT CREATE ON DATABASE {} TO {}").format(db, fm))
        conn.execute(sql.SQL("GRANT USAGE, CREATE ON SCHEMA public TO {}").format(fm))
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(api))

        for schema in _existing_schemas(conn, WRITABLE_SCHEMAS):
            s = sql.Identifier(schema)
            conn.execute(sql.SQL("GRANT USAGE, CREATE ON SCHEMA {} TO {}").format(s, fm))
            conn.execute(sql.SQL("GRANT ALL ON ALL TABLES IN SCHEMA {} TO {}").format(s, fm))
            conn.execute(sql.SQL("GRANT ALL ON ALL SEQUENCES IN SCHEMA {} TO {}").format(s, fm))
            conn.execute(
                sql.SQL(
                    "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {} GRANT ALL ON TABLES TO {}"
                ).format(owner, s, fm)
            )
        for schema in _existing_schemas(conn, READABLE_SCHEMAS):
            s = sql.Identifier(schema)
            conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(s, fm))
            conn.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(s, fm))
            conn.execute(sql.SQL("GRANT SELECT ON ALL SEQUENCES IN SCHEMA {} TO {}").format(s, fm))
            for kind in ("TABLES", "SEQUENCES"):
                conn.execute(
                    sql.SQL(
                        "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {} GRANT SELECT ON {} TO {}"
                    ).format(owner, s, sql.SQL(kind), fm)
                )
            conn.execute(sql.SQL("REVOKE ALL ON SCHEMA {} FROM {}").format(s, api))
            conn.execute(sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA {} FROM {}").format(s, api))
        conn.execute(
            sql.SQL("GRANT USAGE, SELECT, UPDATE ON SEQUENCE cache.cache_touches TO {}").format(fm)
        )

        # The API role reads cached results and geography, nothing else.
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA cache, geography TO {}").format(api))
        conn.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA geography TO {}").format(api))
        conn.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA cache TO {}").format(api))
        for creator in (owner, fm):
            for schema in ("cache", "geography"):
                conn.execute(
                    sql.SQL(
                        "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {} GRANT SELECT ON TABLES TO {}"
                    ).format(creator, sql.Identifier(schema), api)
                )
        for table in CACHE_BOOKKEEPING:
            conn.execute(
                sql.SQL("REVOKE ALL ON TABLE {} FROM {}").format(
                    sql.Identifier("cache", table), api
                )
            )
        conn.execute(sql.SQL("REVOKE ALL ON SEQUENCE cache.cache_touches FROM {}").format(api))
        reconcile_privacy_ledger(conn, settings)
        reconcile_custom_geography(conn, settings)
        reconcile_flowetl(conn, settings)


# The differential-privacy ledger (migration 0007): FlowAPI reads and writes it, nobody else; no DELETE.
PRIVACY_LEDGER_WRITES = ("privacy.user_spend", "privacy.token_spend", "privacy.charges")


def reconcile_privacy_ledger(conn: psycopg.Connection, settings: Settings) -> None:
    """The API role's rights on the epsilon ledger: SELECT, INSERT, UPDATE on its tables, SELECT on its view."""
    if not _existing_schemas(conn, ("privacy",)):
        return
    api = sql.Identifier(settings.flowapi_user)
    conn.execute(sql.SQL("REVOKE ALL ON SCHEMA privacy FROM PUBLIC"))
    conn.execute(sql.SQL("GRANT USAGE ON SCHEMA privacy TO {}").format(api))
    for table in PRIVACY_LEDGER_WRITES:
        name = sql.Identifier(*table.split("."))
        conn.execute(sql.SQL("REVOKE ALL ON TABLE {} FROM {}").format(name, api))
        conn.execute(sql.SQL("GRANT SELECT, INSERT, UPDATE ON TABLE {} TO {}").format(name, api))
    conn.execute(sql.SQL("GRANT SELECT ON privacy.user_ledger TO {}").format(api))


# What FlowETL writes besides its own tables: (table, privileges).
FLOWETL_WRITES = (
    ("etl.etl_records", "SELECT, INSERT"),
    ("etl.quarantine", "SELECT, INSERT"),
    ("etl.post_etl_queries", "SELECT, INSERT"),
    ("public.available_tables", "SELECT, INSERT, UPDATE"),
    ("events.location_ids", "SELECT, INSERT, UPDATE"),
)


def reconcile_flowetl(conn: psycopg.Connection, settings: Settings) -> None:
    """FlowETL's least-privilege login role (docs/admin-guide.md, "FlowDB roles and grants").

    PostgreSQL lets only the owner of a partitioned table attach or drop its partitions, so the partitioned
    `events` tables and their day partitions belong to the NOLOGIN role `events_owner` (migration 0006 keeps
    new partitions so), and `flowetl` is a member of it. `flowetl` creates its scratch tables in `etl`, records
    loads and quarantined rows, reads `infrastructure` (QA checks) and nothing else; it is no superuser.
    """
    etl_role = sql.Identifier(FLOWETL_ROLE)
    events_owner = sql.Identifier(EVENTS_OWNER_ROLE)
    fm = sql.Identifier(FLOWMACHINE_ROLE)
    if not conn.execute(
        "SELECT 1 FROM pg_roles WHERE rolname = %s", (EVENTS_OWNER_ROLE,)
    ).fetchone():
        conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(events_owner))
    conn.execute(sql.SQL("GRANT USAGE, CREATE ON SCHEMA events TO {}").format(events_owner))
    partitioned = conn.execute(
        """SELECT c.oid::regclass::text FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'events' AND (c.relkind = 'p' OR c.relispartition)
             AND c.relowner <> (SELECT oid FROM pg_roles WHERE rolname = %s)""",
        (EVENTS_OWNER_ROLE,),
    ).fetchall()
    for (table,) in partitioned:
        conn.execute(
            sql.SQL("ALTER TABLE {} OWNER TO {}").format(
                sql.Identifier(*table.split(".")), events_owner
            )
        )
    _ensure_login_role(conn, FLOWETL_ROLE, settings.flowetl_password)
    if not settings.env.get("FLOWETL_FLOWDB_PASSWORD") and not settings.loopback_only:
        # A FlowDB reachable from other machines never accepts the development password: without
        # FLOWETL_FLOWDB_PASSWORD the role cannot log in.
        conn.execute(sql.SQL("ALTER ROLE {} NOLOGIN PASSWORD NULL").format(etl_role))
    conn.execute(sql.SQL("GRANT {} TO {}").format(events_owner, etl_role))
    conn.execute(
        sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(
            sql.Identifier(DATABASE), etl_role
        )
    )
    conn.execute(sql.SQL("GRANT USAGE, CREATE ON SCHEMA etl TO {}").format(etl_role))
    conn.execute(
        sql.SQL("GRANT USAGE ON SCHEMA events, public, infrastructure TO {}").format(etl_role)
    )
    conn.execute(
        sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA infrastructure TO {}").format(etl_role)
    )
    conn.execute(
        sql.SQL("GRANT SELECT ON etl.ingest_state, etl.available_dates TO {}").format(etl_role)
    )
    for table, privileges in FLOWETL_WRITES:
        if scalar(conn.execute("SELECT to_regclass(%s)", (table,))) is not None:
            conn.execute(
                sql.SQL("GRANT {} ON TABLE {} TO {}").format(
                    sql.SQL(privileges), sql.Identifier(*table.split(".")), etl_role
                )
            )
    conn.execute(sql.SQL("GRANT USAGE ON ALL SEQUENCES IN SCHEMA etl TO {}").format(etl_role))
    # The day partitions FlowETL makes (in etl, then moved to events) are readable by FlowMachine.
    conn.execute(
        sql.SQL(
            "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA etl GRANT SELECT ON TABLES TO {}"
        ).format(etl_role, fm)
    )


def record_version_and_cache_config(conn: psycopg.Connection, settings: Settings) -> None:
    """Upsert this FlowDB's version and the cache settings from the environment."""
    with conn.transaction():
        conn.execute(
            """INSERT INTO public.flowdb_version (version, release_date, installed_at)
               VALUES (%s, %s, now())
               ON CONFLICT (version) DO UPDATE SET updated = true""",
            (__version__, RELEASE_DATE),
        )
        cache_size = settings.cache_size
        if cache_size is None:
            # FlowKit's default: a tenth of the free space on the data directory's filesystem.
            import shutil

            cache_size = shutil.disk_usage(settings.data_dir).free // 10
        for key, value in (
            ("half_life", settings.cache_half_life),
            ("cache_size", cache_size),
            ("cache_protected_period", settings.cache_protected_period),
        ):
            conn.execute(
                """INSERT INTO cache.cache_config (key, value) VALUES (%s, %s)
                   ON CONFLICT (key) DO UPDATE SET value = excluded.value""",
                (key, str(value)),
            )
