"""SQLAlchemy Core tables of the identity schema; PII only as ciphertext and blind index."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from paysuite.runtime.request_ids_table import declare_request_ids_table

metadata = MetaData()

request_ids = declare_request_ids_table(metadata)

customers = Table(
    "customers",
    metadata,
    Column("customer_id", String(40), primary_key=True),
    Column("id_number_bidx", String(64), nullable=False, unique=True),
    Column("key_id", String(16), nullable=False),
    Column("name_ct", LargeBinary, nullable=False),
    Column("id_number_ct", LargeBinary, nullable=False),
    Column("masked_name", String(64), nullable=False),
    Column("masked_id_number", String(18), nullable=False),
    Column("face_to_face", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("user_id", String(32), primary_key=True),
    Column("request_id", String(64), nullable=False, unique=True),
    Column("request_hash", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("key_id", String(16), nullable=False),
    Column("name_ct", LargeBinary, nullable=True),
    Column("id_number_ct", LargeBinary, nullable=True),
    Column("phone_ct", LargeBinary, nullable=False),
    Column("id_number_bidx", String(64), nullable=True),
    Column("phone_bidx", String(64), nullable=False),
    Column("masked_name", String(64), nullable=False),
    Column("masked_id_number", String(18), nullable=False),
    Column("masked_phone", String(11), nullable=False),
    Column("real_name_verified", Boolean, nullable=False),
    Column("tier", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("customer_id", String(40), ForeignKey("customers.customer_id"), nullable=True),
    Column("opened_on", Date, nullable=False),
    Column("person_exclusive", Boolean, nullable=False),
    Column("tier_cap", String(16), nullable=True),
    Index("one_user_per_phone", "phone_bidx", unique=True),
    # One natural person, one real-named user (when so configured), one Class III account.
    Index(
        "one_user_per_person", "customer_id", unique=True, postgresql_where=text("person_exclusive")
    ),
    Index(
        "one_class_iii_per_person",
        "customer_id",
        unique=True,
        postgresql_where=text("tier = 'class_iii'"),
    ),
)

cards = Table(
    "cards",
    metadata,
    Column("card_id", String(40), primary_key=True),
    Column("user_id", String(32), ForeignKey("users.user_id"), nullable=False),
    Column("bank_code", String(16), nullable=False),
    Column("bank_name", String(64), nullable=False),
    Column("card_type", String(16), nullable=False),
    Column("key_id", String(16), nullable=False),
    Column("card_number_ct", LargeBinary, nullable=False),
    Column("card_number_bidx", String(64), nullable=False),
    Column("masked_card_number", String(19), nullable=False),
    Column("agreement_no", String(64), nullable=False),
    Column("is_default", Boolean, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("unbound_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("user_id", "card_number_bidx", name="cards_once_per_user"),
    Index(
        "one_default_card", "user_id", unique=True, postgresql_where=text("is_default AND active")
    ),
)

verification_attempts = Table(
    "verification_attempts",
    metadata,
    Column("attempt_id", String(40), primary_key=True),
    Column("request_id", String(64), nullable=False, unique=True),
    Column("request_hash", String(64), nullable=False),
    Column("user_id", String(32), ForeignKey("users.user_id"), nullable=False),
    Column("id_number_bidx", String(64), nullable=False),
    Column("card_bidx", String(64), nullable=False),
    Column("method", String(24), nullable=False),
    Column("provider", String(64), nullable=False),
    Column("outcome", String(24), nullable=False),
    Column("mismatched", String(64), nullable=False),
    Column("masked_card", String(19), nullable=False),
    Column("reference", String(64), nullable=False),
    Column("card_id", String(40), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("attempts_by_user", "user_id", "created_at"),
    Index("attempts_by_person", "id_number_bidx", "created_at"),
)

limit_usages = Table(
    "limit_usages",
    metadata,
    Column("payment_id", String(64), primary_key=True),
    Column("user_id", String(32), ForeignKey("users.user_id"), nullable=False),
    Column("customer_id", String(40), nullable=True),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("balance_funded", Boolean, nullable=False),
    Column("counts_for_tier", Boolean, nullable=False),
    Column("day", Date, nullable=False),
    Column("state", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("usages_by_user", "user_id", "day"),
    Index("usages_by_customer", "customer_id", "day"),
)

user_events = Table(
    "user_events",
    metadata,
    Column("event_id", BigInteger, Identity(), primary_key=True),
    Column("user_id", String(32), ForeignKey("users.user_id"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("detail", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("events_by_user", "user_id", "event_id"),
)

limit_totals = Table(
    "limit_totals",
    metadata,
    Column("owner", String(48), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("amount", BigInteger, nullable=False),
    Column("tier_amount", BigInteger, nullable=False),
)
