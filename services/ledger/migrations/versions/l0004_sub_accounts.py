"""Hot accounts split into sub-accounts.

Revision ID: l0004
Revises: l0003
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "l0004"
down_revision = "l0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "accounts", sa.Column("sub_accounts", sa.Integer, nullable=False, server_default="1")
    )
    op.add_column("accounts", sa.Column("parent_account_id", sa.String(128), nullable=True))
    op.create_index("accounts_by_parent", "accounts", ["parent_account_id"])
    op.create_check_constraint("sub_accounts_in_range", "accounts", "sub_accounts BETWEEN 1 AND 64")


def downgrade() -> None:
    op.drop_constraint("sub_accounts_in_range", "accounts")
    op.drop_index("accounts_by_parent", "accounts")
    op.drop_column("accounts", "parent_account_id")
    op.drop_column("accounts", "sub_accounts")
