"""The Alembic migrations build exactly the schema of the models, on SQLite and on PostgreSQL, and can be
applied again without effect."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from flowauth.db import Database
from flowauth.models import Base


def _differences(database: Database) -> list:
    with database.engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn), Base.metadata)


def _schema(database: Database) -> dict[str, object]:
    inspector = inspect(database.engine)
    return {
        table: (
            [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)],
            sorted(str(fk) for fk in inspector.get_foreign_keys(table)),
            sorted(str(ix) for ix in inspector.get_indexes(table)),
        )
        for table in sorted(inspector.get_table_names())
    }


def _check(database: Database) -> None:
    database.upgrade()
    assert database.table_names() == set(Base.metadata.tables) | {"alembic_version"}
    assert _differences(database) == []
    for table in Base.metadata.sorted_tables:
        for fk in table.foreign_keys:
            assert fk.ondelete == "CASCADE", f"{table.name}.{fk.parent.name}"
    before = _schema(database)
    database.upgrade()  # a second time: nothing to do
    assert _schema(database) == before
    with database.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [
            "0003"
        ]
    # the foreign keys cascade in the database itself
    inspector = inspect(database.engine)
    for table in database.table_names() - {"alembic_version"}:
        for fk in inspector.get_foreign_keys(table):
            assert (fk.get("options") or {}).get("ondelete", "").upper() == "CASCADE", table


def _check_upgrade_keeps_data(database: Database) -> None:
    """From 0001 with data to the newest schema: users, roles and memberships stay (on SQLite, 0002 must not
    re-create `user`, which would cascade into every table referring to it)."""
    config = database.alembic_config()
    with database.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
        command.upgrade(config, "0001")
        for statement, values in (
            (
                'INSERT INTO "user" (id, username, _password, is_admin, require_two_factor, '
                "session_version) VALUES (7, 'u', 'hash', :yes, :no, 3)",
                {"yes": True, "no": False},
            ),
            ("INSERT INTO server (id, name, longest_token_life_minutes) VALUES (1, 's', 10)", {}),
            (
                "INSERT INTO role (id, name, server_id, longest_token_life_minutes) "
                "VALUES (1, 'r', 1, 10)",
                {},
            ),
            ("INSERT INTO users_with_roles (user_id, role_id) VALUES (7, 1)", {}),
            (
                "INSERT INTO sign_in_failure (username, address, at) VALUES ('u', 'a', :at)",
                {"at": "2026-01-01 00:00:00"},
            ),
        ):
            conn.execute(text(statement), values)
    database.upgrade()
    assert _differences(database) == []
    with database.engine.connect() as conn:
        assert conn.execute(text('SELECT id, username FROM "user"')).all() == [(7, "u")]
        assert conn.execute(text("SELECT user_id, role_id FROM users_with_roles")).all() == [(7, 1)]


def test_sqlite_schema_matches_models(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path}/flowauth.db")
    try:
        _check(database)
        _check_upgrade_keeps_data(database)
    finally:
        database.dispose()


def test_reset_rebuilds_an_empty_schema(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path}/flowauth.db")
    try:
        database.upgrade()
        with database.engine.begin() as conn:
            conn.execute(
                text("INSERT INTO server (name, longest_token_life_minutes) VALUES ('s', 10)")
            )
        database.reset()
        assert _differences(database) == []
        with database.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM server")).scalar() == 0
    finally:
        database.dispose()


def test_postgresql_schema_matches_models(postgres_uri: str) -> None:
    database = Database(postgres_uri)
    try:
        _check(database)
        _check_upgrade_keeps_data(database)
    finally:
        database.dispose()
