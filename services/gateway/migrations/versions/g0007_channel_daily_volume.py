"""Each channel's volume per accounting day, reserved by attempts on channels with a daily limit.

Revision ID: g0007
Revises: g0006
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "g0007"
down_revision = "g0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channel_daily_volume",
        sa.Column("channel", sa.String(32), primary_key=True),
        sa.Column("accounting_date", sa.Date, primary_key=True),
        sa.Column("currency", sa.String(3), primary_key=True),
        sa.Column("reserved", sa.BigInteger, nullable=False),
        sa.CheckConstraint("reserved >= 0", name="channel_daily_volume_not_negative"),
    )
    op.add_column(
        "channel_attempts",
        sa.Column("volume_reserved", sa.Boolean, nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    op.drop_column("channel_attempts", "volume_reserved")
    op.drop_table("channel_daily_volume")
