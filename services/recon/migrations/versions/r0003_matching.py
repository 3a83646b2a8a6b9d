"""Three-way matching: runs with progress, discrepancies parked in suspense, carried items.

A discrepancy's id is derived from what differs, so a day run again finds the same ones and
posts none twice. Carried items are those a run found missing near the day-cut, for the next
date's run to match. The first runs' differences (matched by payment id alone) are dropped.

Revision ID: r0003
Revises: r0002
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "r0003"
down_revision = "r0002"
branch_labels = None
depends_on = None

_RUN_COLUMNS = (
    sa.Column("phase", sa.String(16), nullable=False, server_default="done"),
    sa.Column("buckets_done", sa.Integer, nullable=False, server_default="0"),
    sa.Column("buckets_total", sa.Integer, nullable=False, server_default="0"),
    sa.Column("import_id", sa.String(40), nullable=False, server_default=""),
    sa.Column("ledger_records", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("carried_in", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("discrepancies", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("posted", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("matched_later", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("flagged_resolved", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("failure", sa.Text, nullable=False, server_default=""),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
)


def upgrade() -> None:
    op.drop_table("differences")
    for column in _RUN_COLUMNS:
        op.add_column("runs", column)
    op.create_index("runs_by_time", "runs", ["created_at", "run_id"])
    op.create_table(
        "discrepancies",
        sa.Column("discrepancy_id", sa.String(40), primary_key=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("statement_date", sa.Date, nullable=False),
        sa.Column("run_id", sa.String(40), nullable=False),
        sa.Column("last_run_id", sa.String(40), nullable=False),
        sa.Column("outcome", sa.String(24), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("transaction_id", sa.String(80), nullable=False),
        sa.Column("channel_transaction_id", sa.String(64), nullable=False),
        sa.Column("merchant_id", sa.String(32), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("statement_amount", sa.BigInteger, nullable=True),
        sa.Column("our_amount", sa.BigInteger, nullable=True),
        sa.Column("ledger_amount", sa.BigInteger, nullable=True),
        sa.Column("statement_fee", sa.BigInteger, nullable=True),
        sa.Column("our_fee", sa.BigInteger, nullable=True),
        sa.Column("statement_succeeded", sa.Boolean, nullable=False),
        sa.Column("our_state", sa.String(16), nullable=False),
        sa.Column("flagged", sa.Boolean, nullable=False),
        sa.Column("detail", JSONB, nullable=False),
        sa.Column("suspense_amount", sa.BigInteger, nullable=False),
        sa.Column("suspense_transfer_id", sa.String(80), nullable=False),
        sa.Column("suspense_item_id", sa.String(96), nullable=False),
        sa.Column("posted", sa.Boolean, nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("action", sa.String(24), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("approver", sa.String(64), nullable=False),
        sa.Column("business_reference", sa.String(128), nullable=False),
        sa.Column("clearing_transfer_id", sa.String(96), nullable=False),
        sa.Column("counter_account_id", sa.String(128), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_on", sa.Date, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "discrepancies_by_date", "discrepancies", ["channel", "statement_date", "discrepancy_id"]
    )
    op.create_index("discrepancies_by_state", "discrepancies", ["state", "channel"])
    op.create_table(
        "carried_items",
        sa.Column("channel", sa.String(32), primary_key=True),
        sa.Column("from_date", sa.Date, primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("detail", JSONB, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("carried_items")
    op.drop_index("discrepancies_by_state", table_name="discrepancies")
    op.drop_index("discrepancies_by_date", table_name="discrepancies")
    op.drop_table("discrepancies")
    op.drop_index("runs_by_time", table_name="runs")
    for column in _RUN_COLUMNS:
        op.drop_column("runs", column.name)
    op.create_table(
        "differences",
        sa.Column("run_id", sa.String(40), sa.ForeignKey("runs.run_id"), primary_key=True),
        sa.Column("payment_id", sa.String(64), primary_key=True),
        sa.Column("outcome", sa.String(24), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("statement_amount", sa.BigInteger, nullable=True),
        sa.Column("our_amount", sa.BigInteger, nullable=True),
    )
