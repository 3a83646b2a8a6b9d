"""Channel notifications applied, by channel and the channel's notification id.

Revision ID: g0005
Revises: g0004
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "g0005"
down_revision = "g0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channel_notifications",
        sa.Column("channel", sa.String(32), primary_key=True),
        sa.Column("notification_id", sa.String(128), primary_key=True),
        sa.Column(
            "payment_id", sa.String(40), sa.ForeignKey("payments.payment_id"), nullable=False
        ),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("notifications_by_payment", "channel_notifications", ["payment_id"])


def downgrade() -> None:
    op.drop_table("channel_notifications")
