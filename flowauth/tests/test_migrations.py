"""The Alembic migrations build exactly the schema of the models, on SQLite and on PostgreSQL, and can be
applied again without effect."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from flowauth.db import Database
from flowauth.models import Base
from flowdb.testing import temporary_cluster


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
            "0001"
        ]
    # the foreign keys cascade in the database itself
    inspector = inspect(database.engine)
    for table in database.table_names() - {"alembic_version"}:
        for fk in inspector.get_foreign_keys(table):
            assert (fk.get("options") or {}).get("ondelete", "").upper() == "CASCADE", table


def test_sqlite_schema_matches_models(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path}/flowauth.db")
    try:
        _check(database)
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


@pytest.fixture(scope="module")
def postgres_uri() -> Iterator[str]:
    """A database `flowauth` in a private PostgreSQL cluster."""
    with temporary_cluster() as cluster:
        with cluster.connect("postgres") as conn:
            conn.execute("CREATE DATABASE flowauth")
        url = make_url(cluster.settings.url()).set(database="flowauth")
        yield url.render_as_string(hide_password=False)


def test_postgresql_schema_matches_models(postgres_uri: str) -> None:
    database = Database(postgres_uri)
    try:
        _check(database)
    finally:
        database.dispose()
