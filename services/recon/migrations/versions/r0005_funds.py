"""Channel funds arriving in the reserve (备付金) account: each statement entry booked once,
each channel's settlement of a business date with what is parked for it, and each statement
date's balance check.

Revision ID: r0005
Revises: r0004
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "r0005"
down_revision = "r0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "funds_entries",
        sa.Column("bank_ref", sa.String(64), primary_key=True),
        sa.Column("statement_date", sa.Date, nullable=False),
        sa.Column("import_id", sa.String(40), nullable=False),
        sa.Column("line_no", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("business_date", sa.Date, nullable=True),
        sa.Column("payout_id", sa.String(64), nullable=False),
        sa.Column("credit", sa.Boolean, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("transfer_id", sa.String(96), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "funds_entries_by_settlement",
        "funds_entries",
        ["channel", "business_date", "currency", "kind"],
    )
    op.create_table(
        "funds_positions",
        sa.Column("channel", sa.String(32), primary_key=True),
        sa.Column("business_date", sa.Date, primary_key=True),
        sa.Column("currency", sa.String(3), primary_key=True),
        sa.Column("expected", sa.BigInteger, nullable=False),
        sa.Column("arrived", sa.BigInteger, nullable=False),
        sa.Column("parked", sa.BigInteger, nullable=False),
        sa.Column("parks", sa.Integer, nullable=False),
        sa.Column("outcome", sa.String(12), nullable=False),
        sa.Column("statement_date", sa.Date, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "funds_checks",
        sa.Column("statement_date", sa.Date, primary_key=True),
        sa.Column("currency", sa.String(3), primary_key=True),
        sa.Column("import_id", sa.String(40), nullable=False),
        sa.Column("bank_closing", sa.BigInteger, nullable=True),
        sa.Column("ledger_balance", sa.BigInteger, nullable=False),
        sa.Column("balanced", sa.Boolean, nullable=False),
        sa.Column("counts", JSONB, nullable=False),
        sa.Column("differences", JSONB, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("funds_checks")
    op.drop_table("funds_positions")
    op.drop_index("funds_entries_by_settlement", table_name="funds_entries")
    op.drop_table("funds_entries")
