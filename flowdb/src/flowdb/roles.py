"""Roles, passwords and grants, reconciled on every start so the environment is always what holds.

The grant matrix is FlowKit's (reference/flowdb.md §2.1) with two least-privilege deviations recorded in
docs/compatibility.md: `flowapi` gets neither CREATE on the database nor on `public`.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from flowdb import RELEASE_DATE, __version__
from flowdb.settings import DATABASE, FLOWMACHINE_ROLE, Settings
from flowdb.tuning import MB, compute_tuning

# Schemas flowmachine may write (results, derived geography and rasters) and schemas it may only read.
WRITABLE_SCHEMAS = ("cache", "geography", "population", "elevation")
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
