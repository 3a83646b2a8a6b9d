"""Payments' and refunds' request ids are unique per merchant, not across merchants: one
merchant's ids never collide with (or reveal) another's. A refund keeps its payment's merchant.

Revision ID: g0018
Revises: g0017
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "g0018"
down_revision = "g0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "payments_merchant_request_id_key", "payments", ["merchant_id", "request_id"], unique=True
    )
    op.drop_constraint("payments_request_id_key", "payments", type_="unique")
    op.add_column(
        "refunds", sa.Column("merchant_id", sa.String(32), nullable=False, server_default="")
    )
    op.execute(
        "UPDATE refunds r SET merchant_id = p.merchant_id FROM payments p "
        "WHERE p.payment_id = r.payment_id"
    )
    op.create_index(
        "refunds_merchant_request_id_key", "refunds", ["merchant_id", "request_id"], unique=True
    )
    op.drop_constraint("refunds_request_id_key", "refunds", type_="unique")


def downgrade() -> None:
    op.create_unique_constraint("refunds_request_id_key", "refunds", ["request_id"])
    op.drop_index("refunds_merchant_request_id_key", "refunds")
    op.drop_column("refunds", "merchant_id")
    op.create_unique_constraint("payments_request_id_key", "payments", ["request_id"])
    op.drop_index("payments_merchant_request_id_key", "payments")
