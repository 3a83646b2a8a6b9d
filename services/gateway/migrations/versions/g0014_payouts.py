"""Payouts (代付): merchant settlements and wallet withdrawals paid out through a bank.

Revision ID: g0014
Revises: g0013
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "g0014"
down_revision = "g0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payouts",
        sa.Column("payout_id", sa.String(40), primary_key=True),
        sa.Column("request_id", sa.String(64), nullable=False, unique=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("owner_id", sa.String(32), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("payee", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("channel_transaction_id", sa.String(64), nullable=False),
        sa.Column("failure_reason", sa.String(64), nullable=False),
        sa.Column("fee", sa.BigInteger, nullable=False),
        sa.Column("needs_reconciliation", sa.Boolean, nullable=False),
        sa.Column("return_reason", sa.String(64), nullable=False),
        sa.Column("returned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("trace_id", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_query_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("query_attempts", sa.Integer, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.CheckConstraint("amount > 0", name="payout_amount_positive"),
    )
    op.create_index("payouts_by_time", "payouts", ["created_at", "payout_id"])
    op.create_index("payouts_by_owner", "payouts", ["owner_id", "created_at", "payout_id"])
    op.create_index(
        "payouts_to_resolve",
        "payouts",
        ["next_query_at"],
        postgresql_where=sa.text("state IN ('processing', 'unknown') AND NOT needs_reconciliation"),
    )


def downgrade() -> None:
    op.drop_table("payouts")
