"""Reconciliation runs and their differences.

Revision ID: r0001
Revises:
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "r0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("run_id", sa.String(40), primary_key=True),
        sa.Column("request_id", sa.String(64), nullable=False, unique=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("statement_date", sa.Date, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("statement_rows", sa.BigInteger, nullable=False),
        sa.Column("our_records", sa.BigInteger, nullable=False),
        sa.Column("counts", JSONB, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("runs_by_channel_date", "runs", ["channel", "statement_date"])
    op.create_table(
        "differences",
        sa.Column("run_id", sa.String(40), sa.ForeignKey("runs.run_id"), primary_key=True),
        sa.Column("payment_id", sa.String(64), primary_key=True),
        sa.Column("outcome", sa.String(24), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("statement_amount", sa.BigInteger, nullable=True),
        sa.Column("our_amount", sa.BigInteger, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("differences")
    op.drop_table("runs")
