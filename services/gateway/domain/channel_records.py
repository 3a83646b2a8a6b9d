"""Our records of a channel's transactions as reconciliation reads them: payments and refunds."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime

from paysuite.money import Money


class RecordKind(enum.Enum):
    PAYMENT = "payment"
    REFUND = "refund"


@dataclass(frozen=True, slots=True)
class ChannelRecord:
    """One payment or refund on a channel. `state` is the payment's or the refund's own state
    (a refund's never closed, unknown or duplicate); `amount` is what the channel moved (the
    order amount less the platform's coupon); `fee` is the channel's fee we booked on a
    payment (0 for a refund); a refund's channel_transaction_id is the channel's refund id."""

    kind: RecordKind
    payment_id: str
    refund_id: str
    merchant_id: str
    channel_transaction_id: str
    amount: Money
    fee: int
    state: str
    needs_reconciliation: bool
    accounting_date: date
    created_at: datetime
    updated_at: datetime
    # The merchant's fee kept of a payment; for a refund, the part of it the refund gave back.
    merchant_fee: int = 0
    # A top-up credits the payer's wallet, not the merchant.
    top_up: bool = False
    # The platform coupon's part of a payment (not charged on the channel: `amount` is what it
    # charged); of a refund, the part that went back to marketing cost, not to the payer.
    platform_coupon: int = 0
    # The traceparent a payment flagged for reconciliation was created under ('' otherwise).
    traceparent: str = ""
