"""Channel attempts: a payment order's tries on channels, each with the routing decision.

Revision ID: g0006
Revises: g0005
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "g0006"
down_revision = "g0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channel_attempts",
        sa.Column(
            "payment_id", sa.String(40), sa.ForeignKey("payments.payment_id"), primary_key=True
        ),
        sa.Column("attempt_no", sa.SmallInteger, primary_key=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("error_code", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    # Payments from before: one attempt on their channel, its outcome as far as the state says.
    op.execute(
        """
        INSERT INTO channel_attempts
        SELECT payment_id, 1, channel, 'default', 'recorded before channel routing',
               CASE state WHEN 'succeeded' THEN 'succeeded' WHEN 'duplicate' THEN 'succeeded'
                          WHEN 'failed' THEN 'failed' WHEN 'closed' THEN 'failed'
                          ELSE 'unknown' END,
               '', created_at, updated_at
        FROM payments WHERE channel <> ''
        """
    )


def downgrade() -> None:
    op.drop_table("channel_attempts")
