"""The payers' lock-and-read function reads by index only: its plan is made once per session
(force_generic_plan), and one made while the tables were small scanned users, cards, limit
usages and totals whole on every call after (1.3 ms a batch at 300 payers, growing with them);
every read in it is a lookup by key, which an index answers at any size.

Revision ID: i0006
Revises: i0005
Create Date: 2026-12-07
"""

from alembic import op

revision = "i0006"
down_revision = "i0005"
branch_labels = None
depends_on = None

_FUNCTION = "lock_payers_and_read_use(text[], text[], text[], boolean[], text[], date[])"


def upgrade() -> None:
    op.execute(f"ALTER FUNCTION {_FUNCTION} SET enable_seqscan = off")


def downgrade() -> None:
    op.execute(f"ALTER FUNCTION {_FUNCTION} RESET enable_seqscan")
