"""SQLAlchemy Core tables of the ledger schema (created by the Alembic migrations)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Date, DateTime, MetaData, String, Table, Text
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

accounts = Table(
    "accounts",
    metadata,
    Column("account_id", String(128), primary_key=True),
    Column("name", Text, nullable=False),
    Column("type", String(16), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("owner_type", String(16), nullable=False),
    Column("owner_id", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("debits_must_not_exceed_credits", Boolean, nullable=False),
    Column("credits_must_not_exceed_debits", Boolean, nullable=False),
    Column("debits_posted", BigInteger, nullable=False),
    Column("credits_posted", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

transfers = Table(
    "transfers",
    metadata,
    Column("transfer_id", String(128), primary_key=True),
    Column("result", String(40), nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("description", Text, nullable=False),
    Column("metadata", JSONB, nullable=False),
    Column("accounting_date", Date, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

entries = Table(
    "entries",
    metadata,
    Column("entry_id", BigInteger, primary_key=True, autoincrement=True),
    Column("transfer_id", String(128), nullable=False),
    Column("account_id", String(128), nullable=False),
    Column("side", String(1), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("accounting_date", Date, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
