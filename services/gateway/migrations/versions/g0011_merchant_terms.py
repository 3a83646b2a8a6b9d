"""Merchants registered and changed through the API: a settlement account and when a merchant
last changed.

Revision ID: g0011
Revises: g0010
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "g0011"
down_revision = "g0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "merchants",
        sa.Column("settlement_account_id", sa.Text, nullable=False, server_default=""),
    )
    op.add_column("merchants", sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE merchants SET updated_at = created_at")
    op.alter_column("merchants", "updated_at", nullable=False)


def downgrade() -> None:
    op.drop_column("merchants", "updated_at")
    op.drop_column("merchants", "settlement_account_id")
