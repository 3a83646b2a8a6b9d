"""Payment status resolution schedule, payment events, refunds.

Revision ID: g0003
Revises: g0002
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "g0003"
down_revision = "g0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("payments", sa.Column("next_query_at", sa.DateTime(timezone=True)))
    op.add_column(
        "payments", sa.Column("query_attempts", sa.Integer, nullable=False, server_default="0")
    )
    op.add_column(
        "payments",
        sa.Column("needs_reconciliation", sa.Boolean, nullable=False, server_default="false"),
    )
    op.add_column(
        "payments", sa.Column("refunded", sa.BigInteger, nullable=False, server_default="0")
    )
    op.create_index(
        "payments_to_resolve",
        "payments",
        ["next_query_at"],
        postgresql_where=sa.text("state IN ('processing', 'unknown') AND NOT needs_reconciliation"),
    )
    op.create_index(
        "payments_by_merchant_time", "payments", ["merchant_id", "created_at", "payment_id"]
    )
    op.create_check_constraint(
        "refunded_within_amount", "payments", "refunded >= 0 AND refunded <= amount"
    )
    op.create_table(
        "payment_events",
        sa.Column("sequence", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("merchant_id", sa.String(32), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("payment_id", sa.String(40), nullable=False),
        sa.Column("refund_id", sa.String(40), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("events_by_merchant", "payment_events", ["merchant_id", "sequence"])
    op.create_table(
        "refunds",
        sa.Column("refund_id", sa.String(40), primary_key=True),
        sa.Column("request_id", sa.String(64), nullable=False, unique=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column(
            "payment_id", sa.String(40), sa.ForeignKey("payments.payment_id"), nullable=False
        ),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("channel_refund_id", sa.String(64), nullable=False, server_default=""),
        sa.Column("failure_reason", sa.String(64), nullable=False, server_default=""),
        sa.Column("trace_id", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount > 0", name="refund_amount_positive"),
    )
    op.create_index("refunds_by_payment", "refunds", ["payment_id"])


def downgrade() -> None:
    op.drop_table("refunds")
    op.drop_table("payment_events")
    op.drop_constraint("refunded_within_amount", "payments")
    op.drop_index("payments_by_merchant_time", "payments")
    op.drop_index("payments_to_resolve", "payments")
    for column in ("refunded", "needs_reconciliation", "query_attempts", "next_query_at"):
        op.drop_column("payments", column)
