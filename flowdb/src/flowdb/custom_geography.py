"""The `custom_geography` schema (migration 0009): loaded polygon layers and operator tables that FlowMachine
and FlowAPI read (never write), and the pattern a layer's name must match."""

from __future__ import annotations

import re

import psycopg
from psycopg import sql

from flowdb.settings import FLOWMACHINE_ROLE, Settings

SCHEMA = "custom_geography"
REGISTRY = "layers"
# A layer's name: its table's name and, as `polygon-<name>`, an aggregation unit and part of scopes.
LAYER_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}\Z")


def reconcile_custom_geography(conn: psycopg.Connection, settings: Settings) -> None:
    """FlowMachine and the FlowAPI role read every table of custom_geography, now and as loaded later."""
    exists = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (SCHEMA,)).fetchone()
    if not exists:
        return
    schema = sql.Identifier(SCHEMA)
    readers = sql.SQL(", ").join(
        [sql.Identifier(FLOWMACHINE_ROLE), sql.Identifier(settings.flowapi_user)]
    )
    conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, readers))
    conn.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(schema, readers))
    conn.execute(
        sql.SQL(
            "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {} GRANT SELECT ON TABLES TO {}"
        ).format(sql.Identifier(settings.superuser), schema, readers)
    )
