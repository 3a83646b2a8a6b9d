"""Merchant callback endpoints and per-merchant delivery cursors.

Revision ID: g0004
Revises: g0003
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "g0004"
down_revision = "g0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("merchants", sa.Column("callback_url", sa.Text, nullable=True))
    op.add_column("merchants", sa.Column("callback_secret", sa.Text, nullable=True))
    op.create_table(
        "callback_cursors",
        sa.Column(
            "merchant_id", sa.String(32), sa.ForeignKey("merchants.merchant_id"), primary_key=True
        ),
        sa.Column("delivered_sequence", sa.BigInteger, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("callback_cursors")
    op.drop_column("merchants", "callback_secret")
    op.drop_column("merchants", "callback_url")
