"""The gateway schema as SQLAlchemy Core tables: what the Alembic migrations build, checked
against them by a test; the stores read and write it in SQL of their own."""

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
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from paysuite.runtime.request_ids_table import declare_request_ids_table

metadata = MetaData()

request_ids = declare_request_ids_table(metadata)

merchants = Table(
    "merchants",
    metadata,
    Column("merchant_id", String(32), primary_key=True),
    Column("name", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("callback_url", Text, nullable=True),
    Column("callback_secret", Text, nullable=True),
    Column("fee_bps", Integer, nullable=False),
    Column("settlement_account_id", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

callback_cursors = Table(
    "callback_cursors",
    metadata,
    Column("merchant_id", String(32), ForeignKey("merchants.merchant_id"), primary_key=True),
    Column("delivered_sequence", BigInteger, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("last_error", Text, nullable=False),
)

payments = Table(
    "payments",
    metadata,
    Column("payment_id", String(40), primary_key=True),
    # Unique per merchant (g0018): one merchant's request ids never collide with another's.
    Column("request_id", String(64), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("merchant_id", String(32), ForeignKey("merchants.merchant_id"), nullable=False),
    Column("merchant_order_no", String(64), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("method", String(16), nullable=False),
    Column("payer_user_id", String(32), nullable=False),
    Column("card_id", String(40), nullable=False),
    Column("description", Text, nullable=False),
    Column("channel", String(32), nullable=False),
    Column("channel_transaction_id", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("failure_reason", String(64), nullable=False),
    Column("fee", BigInteger, nullable=False),
    Column("trace_id", String(32), nullable=False),
    Column("accounting_date", Date, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("next_query_at", DateTime(timezone=True), nullable=True),
    Column("query_attempts", Integer, nullable=False),
    Column("needs_reconciliation", Boolean, nullable=False),
    Column("refunded", BigInteger, nullable=False),
    Column("purpose", String(16), nullable=False),
    Column("merchant_fee", BigInteger, nullable=False),
    Column("merchant_fee_bps", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    # W3C traceparent of the payment's creation (g0016): later work joins its trace.
    Column("traceparent", String(55), nullable=False, server_default=""),
    # The part of the amount the platform's coupon pays (g0020); the channel charges the rest.
    Column("platform_coupon", BigInteger, nullable=False, server_default="0"),
    Index(
        "one_success_per_business_order",
        "merchant_id",
        "merchant_order_no",
        unique=True,
        postgresql_where=text("state = 'succeeded'"),
    ),
    Index("payments_by_order", "merchant_id", "merchant_order_no"),
    Index("payments_merchant_request_id_key", "merchant_id", "request_id", unique=True),
    Index("payments_by_channel_date", "channel", "accounting_date", "payment_id"),
    Index("payments_by_merchant_time", "merchant_id", "created_at", "payment_id"),
    Index(
        "duplicates_to_refund",
        "payment_id",
        postgresql_where=text("state = 'duplicate' AND refunded = 0"),
    ),
    Index(
        "payments_to_resolve",
        "next_query_at",
        postgresql_where=text("state IN ('processing', 'unknown') AND NOT needs_reconciliation"),
    ),
)

payment_events = Table(
    "payment_events",
    metadata,
    Column("event_id", BigInteger, Identity(), primary_key=True),
    # Numbered by the sequencer once committed, in commit order; merchants resume after it.
    Column("sequence", BigInteger, nullable=True),
    Column("merchant_id", String(32), nullable=False),
    Column("type", String(32), nullable=False),
    Column("payment_id", String(40), nullable=False),  # '' for a payout's event
    Column("refund_id", String(40), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # A settlement payout's event ("payout.*") names its payout here (g0019).
    Column("payout_id", String(40), nullable=False, server_default=""),
    # Who caused the event and on what record, where it says (g0021): "payment.reconciled"
    # names the caller that cleared the payment's flag and the reconciliation run.
    Column("actor", String(128), nullable=False, server_default=""),
    Column("reference", String(64), nullable=False, server_default=""),
    Index("events_by_merchant", "merchant_id", "sequence"),
    Index("events_by_sequence", "sequence", unique=True),
    Index("events_to_sequence", "event_id", postgresql_where=text("sequence IS NULL")),
)

refunds = Table(
    "refunds",
    metadata,
    Column("refund_id", String(40), primary_key=True),
    # Unique per merchant (g0018), the payment's merchant kept beside it.
    Column("request_id", String(64), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("payment_id", String(40), ForeignKey("payments.payment_id"), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("state", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    Column("channel_refund_id", String(64), nullable=False),
    Column("failure_reason", String(64), nullable=False),
    Column("trace_id", String(32), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("merchant_id", String(32), nullable=False, server_default=""),
    # The coupon's share of the refund (g0020), back to marketing cost, not to the payer.
    Column("platform_coupon", BigInteger, nullable=False, server_default="0"),
    Index("refunds_by_payment", "payment_id"),
    Index("refunds_merchant_request_id_key", "merchant_id", "request_id", unique=True),
)

outbox = Table(
    "outbox",
    metadata,
    Column("outbox_id", BigInteger, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("idempotency_key", String(128), nullable=False, unique=True),
    Column("payload", JSONB, nullable=False),
    Column("traceparent", String(64), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Index("outbox_due", "next_attempt_at", "outbox_id"),
)

card_verifications = Table(
    "card_verifications",
    metadata,
    Column("request_id", String(64), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("mismatched", ARRAY(String(16)), nullable=False),
    Column("card_state", String(16), nullable=False),
    Column("channel_reference", String(64), nullable=False),
    Column("bank_code", String(16), nullable=False),
    Column("agreement_no", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

channel_notifications = Table(
    "channel_notifications",
    metadata,
    Column("channel", String(32), primary_key=True),
    Column("notification_id", String(128), primary_key=True),
    Column("payment_id", String(40), ForeignKey("payments.payment_id"), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Index("notifications_by_payment", "payment_id"),
)

channel_attempts = Table(
    "channel_attempts",
    metadata,
    Column("payment_id", String(40), ForeignKey("payments.payment_id"), primary_key=True),
    Column("attempt_no", SmallInteger, primary_key=True),
    Column("channel", String(32), nullable=False),
    Column("rule", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("error_code", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("volume_reserved", Boolean, nullable=False),
)

channel_daily_volume = Table(
    "channel_daily_volume",
    metadata,
    Column("channel", String(32), primary_key=True),
    Column("accounting_date", Date, primary_key=True),
    Column("currency", String(3), primary_key=True),
    Column("reserved", BigInteger, nullable=False),
)

payouts = Table(
    "payouts",
    metadata,
    Column("payout_id", String(40), primary_key=True),
    Column("request_id", String(64), nullable=False, unique=True),
    Column("request_hash", String(64), nullable=False),
    Column("purpose", String(16), nullable=False),
    Column("owner_id", String(32), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("payee", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("channel_transaction_id", String(64), nullable=False),
    Column("failure_reason", String(64), nullable=False),
    Column("fee", BigInteger, nullable=False),
    Column("needs_reconciliation", Boolean, nullable=False),
    Column("return_reason", String(64), nullable=False),
    Column("returned_at", DateTime(timezone=True), nullable=True),
    Column("trace_id", String(32), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("next_query_at", DateTime(timezone=True), nullable=True),
    Column("query_attempts", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("source_account", String(128), nullable=False),
    Index("payouts_by_time", "created_at", "payout_id"),
    Index("payouts_by_owner", "owner_id", "created_at", "payout_id"),
    Index(
        "payouts_to_resolve",
        "next_query_at",
        postgresql_where=text("state IN ('processing', 'unknown') AND NOT needs_reconciliation"),
    ),
)
