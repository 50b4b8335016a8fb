"""FlowAuth's tables (FlowKit's roles-era model, with tokens_with_roles and nullable expiry caps), created
explicitly so the schema does not depend on the models at the time it is applied. Works on SQLite and
PostgreSQL; every foreign key deletes in cascade.

Revision ID: 0001
Revises:
Create Date: 2026-05-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _fk(target: str) -> sa.ForeignKey:
    return sa.ForeignKey(target, ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "user",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("username", sa.String(75), nullable=False, unique=True),
        sa.Column("_password", sa.Text(), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("require_two_factor", sa.Boolean(), nullable=False),
        sa.Column("session_version", sa.Integer(), nullable=False),
    )
    op.create_table(
        "server",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(120), nullable=False, unique=True),
        sa.Column("latest_token_expiry", sa.DateTime(), nullable=True),
        sa.Column("longest_token_life_minutes", sa.Integer(), nullable=False),
    )
    op.create_table(
        "two_factor_auth",
        sa.Column("user_id", sa.Integer(), _fk("user.id"), primary_key=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("_secret_key", sa.Text(), nullable=False),
        sa.Column("last_code", sa.String(16), nullable=True),
    )
    op.create_table(
        "two_factor_backup",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("auth_id", sa.Integer(), _fk("two_factor_auth.user_id"), nullable=False),
        sa.Column("_backup_code", sa.Text(), nullable=False),
    )
    op.create_table(
        "role",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(75), nullable=False),
        sa.Column("server_id", sa.Integer(), _fk("server.id"), nullable=False),
        sa.Column("latest_token_expiry", sa.DateTime(), nullable=True),
        sa.Column("longest_token_life_minutes", sa.Integer(), nullable=False),
        sa.UniqueConstraint("name", "server_id"),
    )
    op.create_table(
        "scope",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(512), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("server_id", sa.Integer(), _fk("server.id"), nullable=False),
        sa.UniqueConstraint("name", "server_id"),
    )
    op.create_table(
        "token_history",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(75), nullable=False),
        sa.Column("_token", sa.Text(), nullable=False),
        sa.Column("expiry", sa.DateTime(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("user_id", sa.Integer(), _fk("user.id"), nullable=False),
        sa.Column("server_id", sa.Integer(), _fk("server.id"), nullable=False),
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
    for table, (left, left_target), (right, right_target) in (
        ("users_with_roles", ("user_id", "user.id"), ("role_id", "role.id")),
        ("scopes_in_role", ("scope_id", "scope.id"), ("role_id", "role.id")),
        ("tokens_with_roles", ("token_id", "token_history.id"), ("role_id", "role.id")),
    ):
        op.create_table(
            table,
            sa.Column(left, sa.Integer(), _fk(left_target), primary_key=True),
            sa.Column(right, sa.Integer(), _fk(right_target), primary_key=True),
        )


def downgrade() -> None:
    for table in ("tokens_with_roles", "scopes_in_role", "users_with_roles"):
        op.drop_table(table)
    for column in ("username", "address", "at"):
        op.drop_index(f"ix_sign_in_failure_{column}", table_name="sign_in_failure")
    for table in (
        "sign_in_failure",
        "token_history",
        "scope",
        "role",
        "two_factor_backup",
        "two_factor_auth",
        "server",
        "user",
    ):
        op.drop_table(table)
