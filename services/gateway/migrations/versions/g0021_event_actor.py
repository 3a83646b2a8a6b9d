"""An event can say who caused it and on what record (actor, reference): a payment's
"payment.reconciled" names the caller that cleared its reconciliation flag and the run that
resolved it. Empty for every other event and for those written before.

Revision ID: g0021
Revises: g0020
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "g0021"
down_revision = "g0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "payment_events",
        sa.Column("actor", sa.String(128), nullable=False, server_default=""),
    )
    op.add_column(
        "payment_events",
        sa.Column("reference", sa.String(64), nullable=False, server_default=""),
    )


def downgrade() -> None:
    op.drop_column("payment_events", "reference")
    op.drop_column("payment_events", "actor")
