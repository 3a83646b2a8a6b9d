"""Merchants, payment orders and the transactional outbox.

Revision ID: g0001
Revises:
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "g0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "merchants",
        sa.Column("merchant_id", sa.String(32), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "payments",
        sa.Column("payment_id", sa.String(40), primary_key=True),
        sa.Column("request_id", sa.String(64), nullable=False, unique=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column(
            "merchant_id", sa.String(32), sa.ForeignKey("merchants.merchant_id"), nullable=False
        ),
        sa.Column("merchant_order_no", sa.String(64), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("payer_user_id", sa.String(32), nullable=False),
        sa.Column("card_id", sa.String(40), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("channel_transaction_id", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("failure_reason", sa.String(64), nullable=False),
        sa.Column("fee", sa.BigInteger, nullable=False),
        sa.Column("trace_id", sa.String(32), nullable=False),
        sa.Column("accounting_date", sa.Date, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount > 0", name="amount_positive"),
    )
    # At most one payment of a business order can succeed: the database says so, not only code.
    op.create_index(
        "one_success_per_business_order",
        "payments",
        ["merchant_id", "merchant_order_no"],
        unique=True,
        postgresql_where=sa.text("state = 'succeeded'"),
    )
    op.create_index("payments_by_order", "payments", ["merchant_id", "merchant_order_no"])
    op.create_index(
        "payments_by_channel_date", "payments", ["channel", "accounting_date", "payment_id"]
    )
    op.create_table(
        "outbox",
        sa.Column("outbox_id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=False, unique=True),
        sa.Column("payload", JSONB, nullable=False),
        sa.Column("traceparent", sa.String(64), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "outbox_pending",
        "outbox",
        ["next_attempt_at"],
        postgresql_where=sa.text("delivered_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_table("outbox")
    op.drop_table("payments")
    op.drop_table("merchants")
