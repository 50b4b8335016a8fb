"""Server-side sessions (`login_session`) and atomic rate counters (`rate_counter`).

The sign-in throttle's one-row-per-failure table `sign_in_failure` gives way to counters, and `user.session_version`
to the session rows (a signed-out or replaced session ends for every copy of its cookie). Every session from before
ends: its cookie names no session row. Works on SQLite (3.35+, for DROP COLUMN) and PostgreSQL.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _drop_column(table: str, column: str) -> None:
    if op.get_bind().dialect.name == "sqlite":
        # Not batch mode: that drops and re-creates the table, and with foreign keys on, dropping `user`
        # would cascade into every table that refers to it.
        op.execute(sa.text(f'ALTER TABLE "{table}" DROP COLUMN {column}'))
    else:
        op.drop_column(table, column)


def upgrade() -> None:
    op.create_table(
        "login_session",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("user.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("last_seen", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_login_session_user_id", "login_session", ["user_id"])
    op.create_index("ix_login_session_last_seen", "login_session", ["last_seen"])
    op.create_table(
        "rate_counter",
        sa.Column("bucket", sa.String(32), primary_key=True),
        sa.Column("subject", sa.String(128), primary_key=True),
        sa.Column("window_start", sa.DateTime(), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
    )
    op.create_index("ix_rate_counter_window_start", "rate_counter", ["window_start"])
    for column in ("username", "address", "at"):
        op.drop_index(f"ix_sign_in_failure_{column}", table_name="sign_in_failure")
    op.drop_table("sign_in_failure")
    _drop_column("user", "session_version")


def downgrade() -> None:
    op.add_column(
        "user",
        sa.Column("session_version", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_table(
        "sign_in_failure",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("username", sa.String(75), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
    )
    for column in ("username", "address", "at"):
        op.create_index(f"ix_sign_in_failure_{column}", "sign_in_failure", [column])
    op.drop_index("ix_rate_counter_window_start", table_name="rate_counter")
    op.drop_table("rate_counter")
    op.drop_index("ix_login_session_last_seen", table_name="login_session")
    op.drop_index("ix_login_session_user_id", table_name="login_session")
    op.drop_table("login_session")
