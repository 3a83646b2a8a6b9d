"""Users and cards, PII encrypted with blind indexes.

Revision ID: i0001
Revises:
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "i0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("user_id", sa.String(32), primary_key=True),
        sa.Column("request_id", sa.String(64), nullable=False, unique=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("name_ct", sa.LargeBinary, nullable=False),
        sa.Column("id_number_ct", sa.LargeBinary, nullable=False),
        sa.Column("phone_ct", sa.LargeBinary, nullable=False),
        # One natural person, one user: enforced on the keyed index of the ID number.
        sa.Column("id_number_bidx", sa.String(64), nullable=False, unique=True),
        sa.Column("phone_bidx", sa.String(64), nullable=False),
        sa.Column("masked_name", sa.String(64), nullable=False),
        sa.Column("masked_id_number", sa.String(18), nullable=False),
        sa.Column("masked_phone", sa.String(11), nullable=False),
        sa.Column("real_name_verified", sa.Boolean, nullable=False),
        sa.Column("tier", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("users_by_phone", "users", ["phone_bidx"])
    op.create_table(
        "cards",
        sa.Column("card_id", sa.String(40), primary_key=True),
        sa.Column("user_id", sa.String(32), sa.ForeignKey("users.user_id"), nullable=False),
        sa.Column("bank_code", sa.String(16), nullable=False),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("card_number_ct", sa.LargeBinary, nullable=False),
        sa.Column("card_number_bidx", sa.String(64), nullable=False),
        sa.Column("masked_card_number", sa.String(19), nullable=False),
        sa.Column("agreement_no", sa.String(64), nullable=False),
        sa.Column("is_default", sa.Boolean, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("user_id", "card_number_bidx", name="cards_once_per_user"),
    )
    op.create_index(
        "one_default_card",
        "cards",
        ["user_id"],
        unique=True,
        postgresql_where=sa.text("is_default AND active"),
    )


def downgrade() -> None:
    op.drop_table("cards")
    op.drop_table("users")
