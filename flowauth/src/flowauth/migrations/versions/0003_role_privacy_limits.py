"""Differential-privacy limits per role (issue 21): `max_epsilon_per_query` and `epsilon_budget`, both NULL (no
limits: the role's tokens carry no `privacy` claim) or both set.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (nullable, no default) on both SQLite and PostgreSQL: no table rebuild.
    op.add_column("role", sa.Column("max_epsilon_per_query", sa.Float(), nullable=True))
    op.add_column("role", sa.Column("epsilon_budget", sa.Float(), nullable=True))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for column in ("epsilon_budget", "max_epsilon_per_query"):
            op.execute(sa.text(f'ALTER TABLE "role" DROP COLUMN {column}'))
    else:
        op.drop_column("role", "epsilon_budget")
        op.drop_column("role", "max_epsilon_per_query")
