"""The outbox as a queue: a delivered message is deleted (no new row versions and index entries
for marking it, and the table stays the size of what is in flight); the ledger and identity
keep what was delivered.

Revision ID: g0013
Revises: g0012
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "g0013"
down_revision = "g0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DELETE FROM outbox WHERE delivered_at IS NOT NULL")
    op.drop_index("outbox_due", "outbox")
    op.drop_column("outbox", "delivered_at")
    op.create_index("outbox_due", "outbox", ["next_attempt_at", "outbox_id"])


def downgrade() -> None:
    op.drop_index("outbox_due", "outbox")
    op.add_column("outbox", sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "outbox_due",
        "outbox",
        ["next_attempt_at", "outbox_id"],
        postgresql_where=sa.text("delivered_at IS NULL"),
    )
