"""What a payment is for: a purchase, or a top-up of the payer's platform wallet.

Revision ID: g0008
Revises: g0007
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "g0008"
down_revision = "g0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "payments",
        sa.Column("purpose", sa.String(16), nullable=False, server_default="purchase"),
    )


def downgrade() -> None:
    op.drop_column("payments", "purpose")
