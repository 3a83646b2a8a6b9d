"""Imported statement files and their lines.

A day (channel, statement date) has one current import; a corrected file replaces it (the
earlier import is kept, marked replaced, its lines deleted). Lines are bulk-loaded by COPY in
the transaction that records their import, so they carry no foreign key: checking one per
line would cost a lookup for each of millions of lines.

Revision ID: r0002
Revises: r0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "r0002"
down_revision = "r0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "statement_imports",
        sa.Column("import_id", sa.String(40), primary_key=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("statement_date", sa.Date, nullable=False),
        sa.Column("file_sha256", sa.String(64), nullable=False),
        sa.Column("file_bytes", sa.BigInteger, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("totals", JSONB, nullable=False),
        sa.Column("rejected_count", sa.BigInteger, nullable=False),
        sa.Column("rejected_lines", JSONB, nullable=False),
        sa.Column("control_totals_consistent", sa.Boolean, nullable=False),
        sa.Column("balances_consistent", sa.Boolean, nullable=True),
        sa.Column("breaks", JSONB, nullable=False),
        sa.Column("replaces_import_id", sa.String(40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "statement_imports_current",
        "statement_imports",
        ["channel", "statement_date"],
        unique=True,
        postgresql_where=sa.text("state = 'current'"),
    )
    op.create_table(
        "statement_lines",
        sa.Column("import_id", sa.String(40), primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True),
        sa.Column("line_no", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("channel_transaction_id", sa.String(64), nullable=False),
        sa.Column("order_id", sa.String(64), nullable=False),
        sa.Column("channel_refund_id", sa.String(64), nullable=False),
        sa.Column("refund_id", sa.String(64), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount_minor_units", sa.BigInteger, nullable=False),
        sa.Column("fee", sa.Numeric, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("statement_lines")
    op.drop_index("statement_imports_current", table_name="statement_imports")
    op.drop_table("statement_imports")
