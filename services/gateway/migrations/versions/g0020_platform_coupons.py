"""A payment's platform coupon (the part of its amount the platform pays as marketing cost; the
channel charges the rest) and each refund's share of it; zero for everything written before.

Revision ID: g0020
Revises: g0019
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "g0020"
down_revision = "g0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("payments", "refunds"):
        op.add_column(
            table,
            sa.Column("platform_coupon", sa.BigInteger(), nullable=False, server_default="0"),
        )


def downgrade() -> None:
    for table in ("refunds", "payments"):
        op.drop_column(table, "platform_coupon")
