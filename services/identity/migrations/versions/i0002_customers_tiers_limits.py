"""Customers, verification audit trail, limit usage, user events; tier constraints.

Revision ID: i0002
Revises: i0001
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "i0002"
down_revision = "i0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("customer_id", sa.String(40), primary_key=True),
        sa.Column("id_number_bidx", sa.String(64), nullable=False, unique=True),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("name_ct", sa.LargeBinary, nullable=False),
        sa.Column("id_number_ct", sa.LargeBinary, nullable=False),
        sa.Column("masked_name", sa.String(64), nullable=False),
        sa.Column("masked_id_number", sa.String(18), nullable=False),
        sa.Column("face_to_face", sa.Boolean, nullable=False, server_default="false"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    # Registration is by phone: name and ID number are only claimed until verified.
    for column in ("name_ct", "id_number_ct", "id_number_bidx"):
        op.alter_column("users", column, nullable=True)
    op.drop_constraint("users_id_number_bidx_key", "users", type_="unique")
    op.drop_index("users_by_phone", "users")
    op.create_index("one_user_per_phone", "users", ["phone_bidx"], unique=True)
    op.add_column(
        "users",
        sa.Column(
            "customer_id", sa.String(40), sa.ForeignKey("customers.customer_id"), nullable=True
        ),
    )
    op.add_column(
        "users",
        sa.Column("opened_on", sa.Date, nullable=False, server_default=sa.text("current_date")),
    )
    op.add_column(
        "users", sa.Column("person_exclusive", sa.Boolean, nullable=False, server_default="false")
    )
    op.add_column("users", sa.Column("tier_cap", sa.String(16), nullable=True))
    # One natural person, one real-named user (when configured so), and one Class III account:
    # the database says so, not only the code.
    op.create_index(
        "one_user_per_person",
        "users",
        ["customer_id"],
        unique=True,
        postgresql_where=sa.text("person_exclusive"),
    )
    op.create_index(
        "one_class_iii_per_person",
        "users",
        ["customer_id"],
        unique=True,
        postgresql_where=sa.text("tier = 'class_iii'"),
    )
    op.add_column("cards", sa.Column("bank_name", sa.String(64), nullable=False, server_default=""))
    op.add_column("cards", sa.Column("card_type", sa.String(16), nullable=False, server_default=""))
    op.add_column("cards", sa.Column("unbound_at", sa.DateTime(timezone=True), nullable=True))

    op.create_table(
        "verification_attempts",
        sa.Column("attempt_id", sa.String(40), primary_key=True),
        sa.Column("request_id", sa.String(64), nullable=False, unique=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(32), sa.ForeignKey("users.user_id"), nullable=False),
        sa.Column("id_number_bidx", sa.String(64), nullable=False),
        sa.Column("card_bidx", sa.String(64), nullable=False, server_default=""),
        sa.Column("method", sa.String(24), nullable=False),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(24), nullable=False),
        sa.Column("mismatched", sa.String(64), nullable=False, server_default=""),
        sa.Column("masked_card", sa.String(19), nullable=False, server_default=""),
        sa.Column("reference", sa.String(64), nullable=False, server_default=""),
        sa.Column("card_id", sa.String(40), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("attempts_by_user", "verification_attempts", ["user_id", "created_at"])
    op.create_index("attempts_by_person", "verification_attempts", ["id_number_bidx", "created_at"])

    op.create_table(
        "limit_usages",
        sa.Column("payment_id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(32), sa.ForeignKey("users.user_id"), nullable=False),
        sa.Column("customer_id", sa.String(40), nullable=True),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("balance_funded", sa.Boolean, nullable=False),
        sa.Column("counts_for_tier", sa.Boolean, nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount > 0", name="amount_positive"),
    )
    op.create_index("usages_by_user", "limit_usages", ["user_id", "day"])
    op.create_index("usages_by_customer", "limit_usages", ["customer_id", "day"])

    op.create_table(
        "user_events",
        sa.Column("event_id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("user_id", sa.String(32), sa.ForeignKey("users.user_id"), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("events_by_user", "user_events", ["user_id", "event_id"])


def downgrade() -> None:
    op.drop_table("user_events")
    op.drop_table("limit_usages")
    op.drop_table("verification_attempts")
    for column in ("unbound_at", "card_type", "bank_name"):
        op.drop_column("cards", column)
    op.drop_index("one_class_iii_per_person", "users")
    op.drop_index("one_user_per_person", "users")
    for column in ("tier_cap", "person_exclusive", "opened_on", "customer_id"):
        op.drop_column("users", column)
    op.drop_index("one_user_per_phone", "users")
    op.create_index("users_by_phone", "users", ["phone_bidx"])
    op.create_unique_constraint("users_id_number_bidx_key", "users", ["id_number_bidx"])
    op.drop_table("customers")
