"""SQLAlchemy Core tables of the recon schema (created by the Alembic migrations)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from paysuite.runtime.request_ids_table import declare_request_ids_table

metadata = MetaData()

request_ids = declare_request_ids_table(metadata)

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
    Column("phase", String(16), nullable=False),
    Column("buckets_done", Integer, nullable=False),
    Column("buckets_total", Integer, nullable=False),
    Column("import_id", String(40), nullable=False),
    Column("ledger_records", BigInteger, nullable=False),
    Column("carried_in", BigInteger, nullable=False),
    Column("discrepancies", BigInteger, nullable=False),
    Column("posted", BigInteger, nullable=False),
    Column("matched_later", BigInteger, nullable=False),
    Column("flagged_resolved", BigInteger, nullable=False),
    Column("failure", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=True),
    Index("runs_by_channel_date", "channel", "statement_date"),
    Index("runs_by_time", "created_at", "run_id"),
)

# A difference found by a run, parked in the channel's suspense account until resolved; its
# id is derived from what differs (recon.domain.matching.discrepancy_id).
discrepancies = Table(
    "discrepancies",
    metadata,
    Column("discrepancy_id", String(40), primary_key=True),
    Column("channel", String(32), nullable=False),
    Column("statement_date", Date, nullable=False),
    Column("run_id", String(40), nullable=False),
    Column("last_run_id", String(40), nullable=False),
    Column("outcome", String(24), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("transaction_id", String(80), nullable=False),
    Column("channel_transaction_id", String(64), nullable=False),
    Column("merchant_id", String(32), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("statement_amount", BigInteger, nullable=True),
    Column("our_amount", BigInteger, nullable=True),
    Column("ledger_amount", BigInteger, nullable=True),
    Column("statement_fee", BigInteger, nullable=True),
    Column("our_fee", BigInteger, nullable=True),
    Column("statement_succeeded", Boolean, nullable=False),
    Column("our_state", String(16), nullable=False),
    Column("flagged", Boolean, nullable=False),
    Column("detail", JSONB, nullable=False),
    Column("suspense_amount", BigInteger, nullable=False),
    Column("suspense_transfer_id", String(80), nullable=False),
    Column("suspense_item_id", String(96), nullable=False),
    Column("posted", Boolean, nullable=False),
    Column("state", String(12), nullable=False),
    Column("action", String(24), nullable=False),
    Column("reason", Text, nullable=False),
    Column("approver", String(64), nullable=False),
    Column("business_reference", String(128), nullable=False),
    Column("clearing_transfer_id", String(96), nullable=False),
    Column("counter_account_id", String(128), nullable=False),
    Column("resolved_at", DateTime(timezone=True), nullable=True),
    Column("resolved_on", Date, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("discrepancies_by_date", "channel", "statement_date", "discrepancy_id"),
    Index("discrepancies_by_state", "state", "channel"),
)

# What a run found missing near the day-cut, for the next date's run to match; and (outcome
# matched) the ledger items of the next business date it claimed, which that run leaves out.
carried_items = Table(
    "carried_items",
    metadata,
    Column("channel", String(32), primary_key=True),
    Column("from_date", Date, primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("detail", JSONB, nullable=False),
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


def _stamps() -> tuple[Column[Any], Column[Any]]:
    return (
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=False),
    )


settlement_settings = Table(
    "settlement_settings",
    metadata,
    Column("merchant_id", String(32), primary_key=True),
    Column("currency", String(3), nullable=False),
    Column("cycle_days", Integer, nullable=False),
    Column("advance", Boolean, nullable=False),
    Column("minimum_payout", BigInteger, nullable=False),
    Column("reserve_bps", Integer, nullable=False),
    Column("reserve_days", Integer, nullable=False),
    Column("account_no", String(32), nullable=False),
    Column("account_name", String(64), nullable=False),
    *_stamps(),
)

settlement_batches = Table(
    "settlement_batches",
    metadata,
    Column("batch_id", String(40), primary_key=True),
    Column("trade_date", Date, nullable=False, unique=True),
    Column("state", String(16), nullable=False),
    *_stamps(),
    Index("settlement_batches_by_date", "trade_date", "batch_id"),
)

settlement_channel_lines = Table(
    "settlement_channel_lines",
    metadata,
    Column("batch_id", String(40), primary_key=True),
    Column("channel", String(32), primary_key=True),
    Column("currency", String(3), primary_key=True),
    Column("payments", BigInteger, nullable=False),
    Column("refunds", BigInteger, nullable=False),
    Column("fees", BigInteger, nullable=False),
    Column("net", BigInteger, nullable=False),
)

settlement_lines = Table(
    "settlement_lines",
    metadata,
    Column("batch_id", String(40), primary_key=True),
    Column("merchant_id", String(32), primary_key=True),
    Column("currency", String(3), primary_key=True),
    Column("trade_date", Date, nullable=False),
    Column("settlement_date", Date, nullable=False),
    Column("payments", BigInteger, nullable=False),
    Column("payments_count", Integer, nullable=False),
    Column("refunds", BigInteger, nullable=False),
    Column("refunds_count", Integer, nullable=False),
    Column("fees", BigInteger, nullable=False),
    Column("adjustments", BigInteger, nullable=False),
    # What the platform's coupons paid of the line's payments less refunds (r0007).
    Column("coupons", BigInteger, nullable=False, server_default="0"),
    Column("net", BigInteger, nullable=False),
    Column("reserve_held", BigInteger, nullable=False),
    Column("reserve_release_date", Date, nullable=True),
    Column("reserve_released", Boolean, nullable=False),
    Column("advanced", Boolean, nullable=False),
    Column("state", String(16), nullable=False),
    Column("paid_on", Date, nullable=True),
    *_stamps(),
    Index("settlement_lines_to_pay", "merchant_id", "currency", "state"),
)

settlement_payouts = Table(
    "settlement_payouts",
    metadata,
    Column("merchant_id", String(32), primary_key=True),
    Column("currency", String(3), primary_key=True),
    Column("settlement_date", Date, primary_key=True),
    Column("batch_id", String(40), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("reserve_released", BigInteger, nullable=False),
    Column("advanced", Boolean, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("request_id", String(64), nullable=False),
    Column("payout_id", String(40), nullable=False),
    Column("state", String(16), nullable=False),
    Column("failure_reason", String(64), nullable=False),
    Column("return_reason", String(64), nullable=False),
    *_stamps(),
    Index("settlement_payouts_by_batch", "batch_id"),
    Index("settlement_payouts_by_time", "created_at", "settlement_date"),
)

# Reserve account statement entries, each booked in the ledger once (recon.domain.funds).
funds_entries = Table(
    "funds_entries",
    metadata,
    Column("bank_ref", String(64), primary_key=True),
    Column("statement_date", Date, nullable=False),
    Column("import_id", String(40), nullable=False),
    Column("line_no", BigInteger, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("business_date", Date, nullable=True),
    Column("payout_id", String(64), nullable=False),
    Column("credit", Boolean, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("transfer_id", String(96), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("funds_entries_by_settlement", "channel", "business_date", "currency", "kind"),
)

# A channel's settlement of a business date: expected, arrived so far, parked for the rest.
funds_positions = Table(
    "funds_positions",
    metadata,
    Column("channel", String(32), primary_key=True),
    Column("business_date", Date, primary_key=True),
    Column("currency", String(3), primary_key=True),
    Column("expected", BigInteger, nullable=False),
    Column("arrived", BigInteger, nullable=False),
    Column("parked", BigInteger, nullable=False),
    Column("parks", Integer, nullable=False),
    Column("outcome", String(12), nullable=False),
    Column("statement_date", Date, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# The reserve account's statement of a date against the ledger: the last run's result.
funds_checks = Table(
    "funds_checks",
    metadata,
    Column("statement_date", Date, primary_key=True),
    Column("currency", String(3), primary_key=True),
    Column("import_id", String(40), nullable=False),
    Column("bank_closing", BigInteger, nullable=True),
    Column("ledger_balance", BigInteger, nullable=False),
    Column("balanced", Boolean, nullable=False),
    Column("counts", JSONB, nullable=False),
    Column("differences", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
