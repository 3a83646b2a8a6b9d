"""A payment's W3C traceparent as it was created, so the work that follows it later (a wallet's
notification, a merchant callback) joins the payment's trace; empty for older payments.

Revision ID: g0016
Revises: g0015
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "g0016"
down_revision = "g0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "payments", sa.Column("traceparent", sa.String(55), nullable=False, server_default="")
    )


def downgrade() -> None:
    op.drop_column("payments", "traceparent")
