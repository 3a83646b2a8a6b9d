"""Answers to mutating RPCs by caller and request id (paysuite.runtime.request_ids): a repeat
gets the first answer, a reuse with other content REQUEST_ID_REUSED.

Revision ID: i0004
Revises: i0003
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "i0004"
down_revision = "i0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "request_ids",
        sa.Column("caller", sa.Text, primary_key=True),
        sa.Column("method", sa.Text, primary_key=True),
        sa.Column("request_id", sa.String(64), primary_key=True),
        sa.Column("fingerprint", sa.LargeBinary, nullable=False),
        # Null while the first call is being answered.
        sa.Column("response", sa.LargeBinary, nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("request_ids")
