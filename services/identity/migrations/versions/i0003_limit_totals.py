"""Limit use per owner and accounting day, kept with each reservation, so a window's use is a
sum over at most its days instead of over every payment in it.

Revision ID: i0003
Revises: i0002
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "i0003"
down_revision = "i0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "limit_totals",
        # "user:<user_id>" for the payment account, "person:<customer_id>" for every account of
        # a real-named person.
        sa.Column("owner", sa.String(48), primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        # Reserved and committed, every funding; and of it, what counts for the tier.
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("tier_amount", sa.BigInteger, nullable=False),
    )
    op.execute(
        """
        INSERT INTO limit_totals (owner, day, amount, tier_amount)
        SELECT owner, day, sum(amount), sum(CASE WHEN counts_for_tier THEN amount ELSE 0 END)
        FROM (
            SELECT 'user:' || user_id AS owner, day, amount, counts_for_tier
            FROM limit_usages WHERE state IN ('reserved', 'committed')
            UNION ALL
            SELECT 'person:' || customer_id, day, amount, counts_for_tier
            FROM limit_usages
            WHERE state IN ('reserved', 'committed') AND customer_id IS NOT NULL
        ) used
        GROUP BY owner, day
        """
    )


def downgrade() -> None:
    op.drop_table("limit_totals")
