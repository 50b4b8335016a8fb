"""The FlowAuth database: an engine, a session factory, and Alembic migrations applied in place.

SQLite by default, PostgreSQL (psycopg 3) supported; the migrations in `migrations/versions` work on both.
`Database.upgrade()` is idempotent; `reset()` drops every FlowAuth table and migrates again (RESET_FLOWAUTH_DB).
Within a request, `request_session()` is the one session of that request (closed at teardown).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from flask import current_app, g
from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from flowauth.models import Base

MIGRATIONS = Path(__file__).parent / "migrations"


def _normalise_url(uri: str) -> str:
    """postgresql:// (FlowKit's psycopg2 URLs) means psycopg 3 here."""
    url = make_url(uri)
    if url.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


class Database:
    def __init__(self, uri: str) -> None:
        url = _normalise_url(uri)
        if url.startswith("sqlite"):
            self.engine: Engine = create_engine(url, connect_args={"check_same_thread": False})
            event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            self.engine = create_engine(url, pool_recycle=3600, pool_pre_ping=True)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    def alembic_config(self) -> Config:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        return config

    def upgrade(self) -> None:
        """Apply every migration not yet applied."""
        config = self.alembic_config()
        with self.engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")

    def reset(self) -> None:
        """Drop FlowAuth's tables (and Alembic's record of them), then migrate from scratch."""
        with self.engine.begin() as conn:
            Base.metadata.drop_all(conn)
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        self.upgrade()

    def table_names(self) -> set[str]:
        return set(inspect(self.engine).get_table_names())

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def request_session() -> Session:
    """The current request's session (opened on first use, closed when the request ends)."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["flowauth"].database.sessions()
    return g.db_session


def close_request_session(_exc: BaseException | None = None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
