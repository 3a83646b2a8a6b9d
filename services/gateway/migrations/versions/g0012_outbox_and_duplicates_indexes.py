"""Indexes the relay and the janitor read by: due outbox messages in the order they are claimed
(the old index did not cover that order, so every claim scanned the delivered ones too), and
duplicates still to refund (a scan of every payment each janitor pass).

Revision ID: g0012
Revises: g0011
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "g0012"
down_revision = "g0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("outbox_pending", "outbox")
    op.create_index(
        "outbox_due",
        "outbox",
        ["next_attempt_at", "outbox_id"],
        postgresql_where=sa.text("delivered_at IS NULL"),
    )
    op.create_index(
        "duplicates_to_refund",
        "payments",
        ["payment_id"],
        postgresql_where=sa.text("state = 'duplicate' AND refunded = 0"),
    )


def downgrade() -> None:
    op.drop_index("duplicates_to_refund", "payments")
    op.drop_index("outbox_due", "outbox")
    op.create_index(
        "outbox_pending",
        "outbox",
        ["next_attempt_at"],
        postgresql_where=sa.text("delivered_at IS NULL"),
    )
