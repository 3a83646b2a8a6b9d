"""Answers to mutating RPCs by caller and request id (paysuite.runtime.request_ids): a repeat
gets the first answer, a reuse with other content REQUEST_ID_REUSED.

Revision ID: r0006
Revises: r0005
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "r0006"
down_revision = "r0005"
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
