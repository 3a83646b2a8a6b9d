"""The ledger schema as SQLAlchemy Core tables: what the migrations build, declared once.

The ledger writes through plain asyncpg with SQL of its own (codec names the columns), so no
query is built from these; they are the schema's declaration, checked against the migrations
(tests/integration/test_tables_match_migrations.py) and against codec's column lists. Check
constraints, the entries' append-only trigger and storage settings live in the migrations.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import UserDefinedType


class Xid8(UserDefinedType[int]):
    """Postgres's 64-bit transaction id: the entry feed's order of commit."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "xid8"


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
    Column("overdraft_limit", BigInteger, nullable=False),
    Column("suspense", Boolean, nullable=False),
    Column("debits_pending", BigInteger, nullable=False),
    Column("credits_pending", BigInteger, nullable=False),
    Column("day_end_balance", BigInteger, nullable=False),
    Column("day_end_date", Date, nullable=True),
    Column("sub_accounts", Integer, nullable=False),
    Column("parent_account_id", String(128), nullable=True),
    Index("accounts_by_parent", "parent_account_id"),
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
    Column("kind", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("postings", Text, nullable=False),
    Column("linked_transfer_id", String(200), nullable=False),
    Column("reversed_by", String(128), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=True),
    # A pending transfer is posted or voided once, a transfer reversed once, an item cleared once.
    Index(
        "resolved_once",
        "linked_transfer_id",
        unique=True,
        postgresql_where=text("kind IN ('post', 'void') AND state <> 'failed'"),
    ),
    Index(
        "reversed_once",
        "linked_transfer_id",
        unique=True,
        postgresql_where=text("kind = 'reverse' AND state <> 'failed'"),
    ),
    Index(
        "cleared_once",
        "linked_transfer_id",
        unique=True,
        postgresql_where=text("kind = 'clear' AND state <> 'failed'"),
    ),
    Index(
        "pending_by_expiry",
        "expires_at",
        postgresql_where=text("state = 'pending' AND expires_at IS NOT NULL"),
    ),
    Index("transfers_by_date", "accounting_date", postgresql_using="brin"),
)

# Append-only, written by the batch engine only (which holds the accounts locked): no foreign
# keys to check per row.
entries = Table(
    "entries",
    metadata,
    Column("entry_id", BigInteger, Identity(), primary_key=True),
    Column("transfer_id", String(128), nullable=False),
    Column("account_id", String(128), nullable=False),
    Column("side", String(1), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("accounting_date", Date, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("balance_after", BigInteger, nullable=False),
    Column("txid", Xid8, nullable=False),
    Index("entries_by_account", "account_id", "entry_id"),
    Index("entries_feed", "txid", "entry_id"),
    Index("entries_by_date", "accounting_date", postgresql_using="brin"),
)

ledger_state = Table(
    "ledger_state",
    metadata,
    Column("singleton", Boolean, primary_key=True),
    Column("business_date", Date, nullable=False),
    Column("last_closed_date", Date, nullable=True),
)

day_cuts = Table(
    "day_cuts",
    metadata,
    Column("request_id", String(64), primary_key=True),
    Column("cut_date", Date, nullable=False, unique=True),
    Column("business_date", Date, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

daily_balances = Table(
    "daily_balances",
    metadata,
    Column("accounting_date", Date, primary_key=True),
    Column("account_id", String(128), ForeignKey("accounts.account_id"), primary_key=True),
    Column("opening", BigInteger, nullable=False),
    Column("debit_turnover", BigInteger, nullable=False),
    Column("credit_turnover", BigInteger, nullable=False),
    Column("closing", BigInteger, nullable=False),
)

day_ends = Table(
    "day_ends",
    metadata,
    Column("accounting_date", Date, primary_key=True),
    Column("report", Text, nullable=False),
    Column("completed_at", DateTime(timezone=True), nullable=False),
)

suspense_items = Table(
    "suspense_items",
    metadata,
    Column("item_id", String(200), primary_key=True),
    Column("suspense_account_id", String(128), ForeignKey("accounts.account_id"), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("transfer_id", String(128), nullable=False),
    Column("description", Text, nullable=False),
    Column("accounting_date", Date, nullable=False),
    Column("state", String(16), nullable=False),
    Column("cleared_by", String(128), nullable=False),
    Column("clear_reason", Text, nullable=False),
    Column("business_reference", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("suspense_by_state", "state", "created_at", "item_id"),
)
