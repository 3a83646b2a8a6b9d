"""Leaner write path: fewer entry indexes, BRIN for dates, no per-row foreign-key checks.

Entries are written only by the ledger's batch engine, which holds every account row it
posts to locked, so the per-row foreign-key checks bought nothing but cost on every entry.
Accounting dates and creation times grow with entry ids, so BRIN indexes serve date scans.

Revision ID: l0003
Revises: l0002
Create Date: 2026-11-21
"""

from alembic import op

revision = "l0003"
down_revision = "l0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_constraint("entries_transfer_id_fkey", "entries", type_="foreignkey")
    op.drop_constraint("entries_account_id_fkey", "entries", type_="foreignkey")
    for index in (
        "entries_by_transfer",
        "entries_by_account_time",
        "entries_by_account_date",
        "entries_by_date",
    ):
        op.drop_index(index, "entries")
    op.drop_index("transfers_by_date", "transfers")
    op.execute("CREATE INDEX entries_by_date ON entries USING brin (accounting_date)")
    op.execute("CREATE INDEX transfers_by_date ON transfers USING brin (accounting_date)")


def downgrade() -> None:
    op.drop_index("transfers_by_date", "transfers")
    op.drop_index("entries_by_date", "entries")
    op.create_index("transfers_by_date", "transfers", ["accounting_date"])
    op.create_index("entries_by_date", "entries", ["accounting_date"])
    op.create_index(
        "entries_by_account_date", "entries", ["account_id", "accounting_date", "entry_id"]
    )
    op.create_index("entries_by_account_time", "entries", ["account_id", "created_at", "entry_id"])
    op.create_index("entries_by_transfer", "entries", ["transfer_id"])
    op.create_foreign_key(
        "entries_account_id_fkey", "entries", "accounts", ["account_id"], ["account_id"]
    )
    op.create_foreign_key(
        "entries_transfer_id_fkey", "entries", "transfers", ["transfer_id"], ["transfer_id"]
    )
