"""SQLAlchemy Core tables of the recon schema (created by the Alembic migrations)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    MetaData,
    Numeric,
    String,
    Table,
    text,
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

statement_imports = Table(
    "statement_imports",
    metadata,
    Column("import_id", String(40), primary_key=True),
    Column("channel", String(32), nullable=False),
    Column("format", String(16), nullable=False),
    Column("statement_date", Date, nullable=False),
    Column("file_sha256", String(64), nullable=False),
    Column("file_bytes", BigInteger, nullable=False),
    Column("state", String(16), nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("totals", JSONB, nullable=False),
    Column("rejected_count", BigInteger, nullable=False),
    Column("rejected_lines", JSONB, nullable=False),
    Column("control_totals_consistent", Boolean, nullable=False),
    Column("balances_consistent", Boolean, nullable=True),
    Column("breaks", JSONB, nullable=False),
    Column("replaces_import_id", String(40), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # A day has one current import; a corrected file replaces it.
    Index(
        "statement_imports_current",
        "channel",
        "statement_date",
        unique=True,
        postgresql_where=text("state = 'current'"),
    ),
)

# Written only by COPY with their import, in its transaction: no foreign key (see r0002).
statement_lines = Table(
    "statement_lines",
    metadata,
    Column("import_id", String(40), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("line_no", BigInteger, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("direction", String(8), nullable=False),
    Column("channel_transaction_id", String(64), nullable=False),
    Column("order_id", String(64), nullable=False),
    Column("channel_refund_id", String(64), nullable=False),
    Column("refund_id", String(64), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount_minor_units", BigInteger, nullable=False),
    Column("fee", Numeric, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=True),
    Column("status", String(32), nullable=False),
)
