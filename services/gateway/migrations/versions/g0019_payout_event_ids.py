"""A payout's event names its payout in a column of its own (payout_id), no longer in
payment_id, which a payout event leaves empty; events written before are moved over.

Revision ID: g0019
Revises: g0018
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "g0019"
down_revision = "g0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "payment_events",
        sa.Column("payout_id", sa.String(40), nullable=False, server_default=""),
    )
    op.execute(
        "UPDATE payment_events SET payout_id = payment_id, payment_id = '' "
        "WHERE type LIKE 'payout.%' AND payout_id = ''"
    )


def downgrade() -> None:
    op.execute(
        "UPDATE payment_events SET payment_id = payout_id "
        "WHERE type LIKE 'payout.%' AND payout_id <> ''"
    )
    op.drop_column("payment_events", "payout_id")
