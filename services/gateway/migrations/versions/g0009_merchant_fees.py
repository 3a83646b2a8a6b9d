"""Merchant fee rates, and the fee the platform keeps of each captured payment.

Revision ID: g0009
Revises: g0008
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "g0009"
down_revision = "g0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("merchants", sa.Column("fee_bps", sa.Integer, nullable=False, server_default="0"))
    op.create_check_constraint("merchant_fee_bps_range", "merchants", "fee_bps BETWEEN 0 AND 10000")
    op.add_column(
        "payments", sa.Column("merchant_fee", sa.BigInteger, nullable=False, server_default="0")
    )


def downgrade() -> None:
    op.drop_column("payments", "merchant_fee")
    op.drop_column("merchants", "fee_bps")
