"""SQLAlchemy Core tables of the recon schema (created by the Alembic migrations)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    MetaData,
    String,
    Table,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

runs = Table(
    "runs",
    metadata,
    Column("run_id", String(40), primary_key=True),
    Column("request_id", String(64), nullable=False, unique=True),
    Column("channel", String(32), nullable=False),
    Column("statement_date", Date, nullable=False),
    Column("state", String(16), nullable=False),
    Column("statement_rows", BigInteger, nullable=False),
    Column("our_records", BigInteger, nullable=False),
    Column("counts", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("runs_by_channel_date", "channel", "statement_date"),
)

differences = Table(
    "differences",
    metadata,
    Column("run_id", String(40), ForeignKey("runs.run_id"), primary_key=True),
    Column("payment_id", String(64), primary_key=True),
    Column("outcome", String(24), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("statement_amount", BigInteger, nullable=True),
    Column("our_amount", BigInteger, nullable=True),
)
