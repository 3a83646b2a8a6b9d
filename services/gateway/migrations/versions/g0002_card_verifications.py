"""Card verifications: verdicts by request id, with a keyed request fingerprint and no PII.

Revision ID: g0002
Revises: g0001
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision = "g0002"
down_revision = "g0001"
branch_labels = None
depends_on = None

_OUTCOMES = "'match', 'mismatch', 'no_record', 'card_state', 'cannot_verify', 'rate_limited'"


def upgrade() -> None:
    # Never a name, ID number, card number or phone here: request_hash is an HMAC, not a hash.
    op.create_table(
        "card_verifications",
        sa.Column("request_id", sa.String(64), primary_key=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column(
            "mismatched",
            ARRAY(sa.String(16)),
            nullable=False,
            server_default=sa.text("'{}'::varchar[]"),
        ),
        sa.Column("card_state", sa.String(16), nullable=False),
        sa.Column("channel_reference", sa.String(64), nullable=False),
        sa.Column("bank_code", sa.String(16), nullable=False),
        sa.Column("agreement_no", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(f"outcome IN ({_OUTCOMES})", name="card_verification_outcome"),
    )


def downgrade() -> None:
    op.drop_table("card_verifications")
