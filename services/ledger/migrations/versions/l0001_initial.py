"""Accounts, transfers and entries.

Revision ID: l0001
Revises:
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "l0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("account_id", sa.String(128), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("owner_type", sa.String(16), nullable=False),
        sa.Column("owner_id", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("debits_must_not_exceed_credits", sa.Boolean, nullable=False),
        sa.Column("credits_must_not_exceed_debits", sa.Boolean, nullable=False),
        sa.Column("debits_posted", sa.BigInteger, nullable=False),
        sa.Column("credits_posted", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "debits_posted >= 0 AND credits_posted >= 0", name="totals_non_negative"
        ),
    )
    op.create_table(
        "transfers",
        sa.Column("transfer_id", sa.String(128), primary_key=True),
        sa.Column("result", sa.String(40), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("metadata", JSONB, nullable=False),
        sa.Column("accounting_date", sa.Date, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "entries",
        sa.Column("entry_id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column(
            "transfer_id", sa.String(128), sa.ForeignKey("transfers.transfer_id"), nullable=False
        ),
        sa.Column(
            "account_id", sa.String(128), sa.ForeignKey("accounts.account_id"), nullable=False
        ),
        sa.Column("side", sa.String(1), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("accounting_date", sa.Date, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("side IN ('D', 'C')", name="side_is_debit_or_credit"),
        sa.CheckConstraint("amount > 0", name="amount_positive"),
    )
    op.create_index("entries_by_account", "entries", ["account_id", "entry_id"])
    op.create_index("entries_by_transfer", "entries", ["transfer_id"])
    # Append-only: a posted entry is never changed; corrections are new entries.
    op.execute(
        """
        CREATE FUNCTION refuse_entry_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'ledger entries are append-only';
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER entries_append_only BEFORE UPDATE OR DELETE ON entries "
        "FOR EACH ROW EXECUTE FUNCTION refuse_entry_change()"
    )


def downgrade() -> None:
    op.drop_table("entries")
    op.drop_table("transfers")
    op.drop_table("accounts")
    op.execute("DROP FUNCTION refuse_entry_change()")
