"""A settlement line's platform coupons: what the platform's coupons paid of the merchant's
payments less refunds of the date (in payments and net already); zero for lines made before.

Revision ID: r0007
Revises: r0006
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "r0007"
down_revision = "r0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "settlement_lines",
        sa.Column("coupons", sa.BigInteger(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    op.drop_column("settlement_lines", "coupons")
