"""A payout's source account: the ledger account it is paid from and returned to, when the
request named one (settlement pays from the merchant's settling account); empty: the payable
or the wallet, as before.

Revision ID: g0015
Revises: g0014
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "g0015"
down_revision = "g0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "payouts",
        sa.Column("source_account", sa.String(128), nullable=False, server_default=""),
    )


def downgrade() -> None:
    op.drop_column("payouts", "source_account")
