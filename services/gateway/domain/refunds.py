"""Refunds of succeeded payments: partial up to what is left, and their state machine."""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import dataclass, replace
from datetime import datetime

from gateway.domain import coupons, fees
from gateway.domain.model import Payment
from gateway.domain.ports import LedgerPosting
from paysuite import accounts
from paysuite.errors import DomainError, ErrorKind
from paysuite.money import Money


class RefundState(enum.Enum):
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def terminal(self) -> bool:
        return self is not RefundState.PROCESSING


class RefundNotAllowed(DomainError):
    kind = ErrorKind.FAILED_PRECONDITION
    reason = "PAYMENT_NOT_REFUNDABLE"


class TopUpNotRefundable(DomainError):
    kind = ErrorKind.FAILED_PRECONDITION
    reason = "TOP_UP_NOT_REFUNDABLE"


class RefundExceedsPayment(DomainError):
    kind = ErrorKind.FAILED_PRECONDITION
    reason = "REFUND_EXCEEDS_PAYMENT"


@dataclass(frozen=True, slots=True)
class RequestRefund:
    request_id: str
    payment_id: str
    amount: Money
    reason: str

    def request_hash(self) -> str:
        body = {
            "payment_id": self.payment_id,
            "reason": self.reason,
            "amount": [self.amount.currency, self.amount.minor_units],
        }
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Refund:
    refund_id: str
    request_id: str
    request_hash: str
    payment_id: str
    amount: Money
    state: RefundState
    reason: str
    trace_id: str
    created_at: datetime
    updated_at: datetime
    channel_refund_id: str = ""
    failure_reason: str = ""
    # Of a payment the platform's coupon paid part of: the part of the amount going back to
    # the platform's marketing cost, not to the payer.
    platform_coupon: int = 0

    @property
    def charged(self) -> Money:
        """What the channel gives back to the payer: the amount less the coupon's share."""
        return Money(self.amount.currency, self.amount.minor_units - self.platform_coupon)

    def succeed(self, channel_refund_id: str, now: datetime) -> Refund:
        if self.state.terminal:
            return self
        return replace(
            self, state=RefundState.SUCCEEDED, updated_at=now, channel_refund_id=channel_refund_id
        )

    def fail(self, reason: str, now: datetime) -> Refund:
        if self.state.terminal:
            return self
        return replace(self, state=RefundState.FAILED, updated_at=now, failure_reason=reason)


def check_refundable(captured: Money, refunded: int, amount: Money, succeeded: bool) -> None:
    """A refund needs a succeeded payment, its currency, and room left in it."""
    if not succeeded:
        raise RefundNotAllowed("only a succeeded payment can be refunded")
    if amount.currency != captured.currency:
        raise RefundExceedsPayment("the refund currency differs from the payment's")
    if refunded + amount.minor_units > captured.minor_units:
        raise RefundExceedsPayment(
            "the refund exceeds what is left of the payment",
            metadata={"refundable_minor_units": str(captured.minor_units - refunded)},
        )


def refund_postings(refund: Refund, payment: Payment, refunded_before: int) -> list[LedgerPosting]:
    """The capture in reverse: the merchant and the platform's fee income each give back their
    share of the refund (the fee pro rata, its parts adding up to the whole fee), to the payer
    through the channel and, of a coupon's payment, the coupon's share to marketing cost."""
    currency = refund.amount.currency
    receivable = accounts.channel_receivable(payment.channel, currency)
    fee_back = fees.refunded_fee(
        payment.merchant_fee,
        payment.amount.minor_units,
        refunded_before,
        refund.amount.minor_units,
    )
    return coupons.paired(
        currency,
        [
            (payment.payee_account, refund.amount.minor_units - fee_back),
            (accounts.fee_income(currency), fee_back),
        ],
        [
            (accounts.marketing_cost(currency), refund.platform_coupon),
            (receivable, refund.charged.minor_units),
        ],
    )
