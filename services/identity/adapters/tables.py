"""SQLAlchemy Core tables of the identity schema; PII only as ciphertext and blind index."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, LargeBinary, MetaData, String, Table

metadata = MetaData()

users = Table(
    "users",
    metadata,
    Column("user_id", String(32), primary_key=True),
    Column("request_id", String(64), nullable=False, unique=True),
    Column("request_hash", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("key_id", String(16), nullable=False),
    Column("name_ct", LargeBinary, nullable=False),
    Column("id_number_ct", LargeBinary, nullable=False),
    Column("phone_ct", LargeBinary, nullable=False),
    Column("id_number_bidx", String(64), nullable=False, unique=True),
    Column("phone_bidx", String(64), nullable=False),
    Column("masked_name", String(64), nullable=False),
    Column("masked_id_number", String(18), nullable=False),
    Column("masked_phone", String(11), nullable=False),
    Column("real_name_verified", Boolean, nullable=False),
    Column("tier", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

cards = Table(
    "cards",
    metadata,
    Column("card_id", String(40), primary_key=True),
    Column("user_id", String(32), nullable=False),
    Column("bank_code", String(16), nullable=False),
    Column("key_id", String(16), nullable=False),
    Column("card_number_ct", LargeBinary, nullable=False),
    Column("card_number_bidx", String(64), nullable=False),
    Column("masked_card_number", String(19), nullable=False),
    Column("agreement_no", String(64), nullable=False),
    Column("is_default", Boolean, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
