"""The lean payment path: optimistic versions on payments, the fee rate fixed at creation, and
payment events numbered by one sequencer in commit order instead of under a merchant lock.

Revision ID: g0010
Revises: g0009
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "g0010"
down_revision = "g0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("payments", sa.Column("version", sa.Integer, nullable=False, server_default="0"))
    op.add_column(
        "payments", sa.Column("merchant_fee_bps", sa.Integer, nullable=False, server_default="0")
    )
    op.execute(
        """
        UPDATE payments p SET merchant_fee_bps = m.fee_bps
        FROM merchants m WHERE m.merchant_id = p.merchant_id
        """
    )
    # Events get an id of their own as they are written; their sequence, what merchants resume
    # after, is handed out later by the sequencer, in the order events committed.
    op.add_column(
        "payment_events",
        sa.Column("event_id", sa.BigInteger, sa.Identity(), nullable=False),
    )
    op.execute("ALTER TABLE payment_events DROP CONSTRAINT payment_events_pkey")
    op.create_primary_key("payment_events_pkey", "payment_events", ["event_id"])
    op.execute("ALTER TABLE payment_events ALTER COLUMN sequence DROP IDENTITY")
    op.alter_column("payment_events", "sequence", nullable=True)
    op.create_index("events_by_sequence", "payment_events", ["sequence"], unique=True)
    op.create_index(
        "events_to_sequence",
        "payment_events",
        ["event_id"],
        postgresql_where=sa.text("sequence IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("events_to_sequence", "payment_events")
    op.drop_index("events_by_sequence", "payment_events")
    op.execute("DELETE FROM payment_events WHERE sequence IS NULL")
    op.alter_column("payment_events", "sequence", nullable=False)
    op.execute("ALTER TABLE payment_events DROP CONSTRAINT payment_events_pkey")
    op.create_primary_key("payment_events_pkey", "payment_events", ["sequence"])
    op.drop_column("payment_events", "event_id")
    op.drop_column("payments", "merchant_fee_bps")
    op.drop_column("payments", "version")
