"""Clearing and settlement (清结算): merchants' settlement settings, a batch per cleared date,
its lines per merchant and per channel, and the payouts that pay merchants.

A line is one merchant's cleared date (payments, refunds, fees, adjustments, net, reserve held);
a payout pays a merchant what is due on one settlement date, the lines it covers pointing at
it. Both are keyed by what they settle, so a run again finds and books nothing new.

Revision ID: r0004
Revises: r0003
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "r0004"
down_revision = "r0003"
branch_labels = None
depends_on = None


def _stamps() -> tuple[sa.Column, sa.Column]:
    return (
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def upgrade() -> None:
    op.create_table(
        "settlement_settings",
        sa.Column("merchant_id", sa.String(32), primary_key=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("cycle_days", sa.Integer, nullable=False),
        sa.Column("advance", sa.Boolean, nullable=False),
        sa.Column("minimum_payout", sa.BigInteger, nullable=False),
        sa.Column("reserve_bps", sa.Integer, nullable=False),
        sa.Column("reserve_days", sa.Integer, nullable=False),
        sa.Column("account_no", sa.String(32), nullable=False),
        sa.Column("account_name", sa.String(64), nullable=False),
        *_stamps(),
    )
    op.create_table(
        "settlement_batches",
        sa.Column("batch_id", sa.String(40), primary_key=True),
        sa.Column("trade_date", sa.Date, nullable=False, unique=True),
        sa.Column("state", sa.String(16), nullable=False),
        *_stamps(),
    )
    op.create_index("settlement_batches_by_date", "settlement_batches", ["trade_date", "batch_id"])
    op.create_table(
        "settlement_channel_lines",
        sa.Column("batch_id", sa.String(40), primary_key=True),
        sa.Column("channel", sa.String(32), primary_key=True),
        sa.Column("currency", sa.String(3), primary_key=True),
        sa.Column("payments", sa.BigInteger, nullable=False),
        sa.Column("refunds", sa.BigInteger, nullable=False),
        sa.Column("fees", sa.BigInteger, nullable=False),
        sa.Column("net", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "settlement_lines",
        sa.Column("batch_id", sa.String(40), primary_key=True),
        sa.Column("merchant_id", sa.String(32), primary_key=True),
        sa.Column("currency", sa.String(3), primary_key=True),
        sa.Column("trade_date", sa.Date, nullable=False),
        sa.Column("settlement_date", sa.Date, nullable=False),
        sa.Column("payments", sa.BigInteger, nullable=False),
        sa.Column("payments_count", sa.Integer, nullable=False),
        sa.Column("refunds", sa.BigInteger, nullable=False),
        sa.Column("refunds_count", sa.Integer, nullable=False),
        sa.Column("fees", sa.BigInteger, nullable=False),
        sa.Column("adjustments", sa.BigInteger, nullable=False),
        sa.Column("net", sa.BigInteger, nullable=False),
        sa.Column("reserve_held", sa.BigInteger, nullable=False),
        sa.Column("reserve_release_date", sa.Date, nullable=True),
        sa.Column("reserve_released", sa.Boolean, nullable=False),
        sa.Column("advanced", sa.Boolean, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("paid_on", sa.Date, nullable=True),
        *_stamps(),
    )
    op.create_index(
        "settlement_lines_to_pay", "settlement_lines", ["merchant_id", "currency", "state"]
    )
    op.create_table(
        "settlement_payouts",
        sa.Column("merchant_id", sa.String(32), primary_key=True),
        sa.Column("currency", sa.String(3), primary_key=True),
        sa.Column("settlement_date", sa.Date, primary_key=True),
        sa.Column("batch_id", sa.String(40), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("reserve_released", sa.BigInteger, nullable=False),
        sa.Column("advanced", sa.Boolean, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("payout_id", sa.String(40), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("failure_reason", sa.String(64), nullable=False),
        sa.Column("return_reason", sa.String(64), nullable=False),
        *_stamps(),
    )
    op.create_index("settlement_payouts_by_batch", "settlement_payouts", ["batch_id"])
    op.create_index(
        "settlement_payouts_by_time", "settlement_payouts", ["created_at", "settlement_date"]
    )


def downgrade() -> None:
    for table in (
        "settlement_payouts",
        "settlement_lines",
        "settlement_channel_lines",
        "settlement_batches",
        "settlement_settings",
    ):
        op.drop_table(table)
