"""Payment orders and their pessimistic state machine: nothing succeeds until a channel says so."""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import dataclass, field, fields
from datetime import datetime
from operator import attrgetter
from types import MappingProxyType
from typing import Any

from gateway.domain import fees
from paysuite import accounts
from paysuite.errors import DomainError, ErrorKind
from paysuite.money import Money


class PaymentMethod(enum.Enum):
    BANK_CARD = "bank_card"
    ALIPAY = "alipay"
    WECHAT_PAY = "wechat_pay"
    # The payer's own platform wallet, booked in our ledger.
    WALLET_BALANCE = "wallet_balance"

    @property
    def needs_card(self) -> bool:
        """Whether the payer pays with a card bound here; a wallet pays from its own account."""
        return self is PaymentMethod.BANK_CARD


class PaymentPurpose(enum.Enum):
    PURCHASE = "purchase"  # pays the merchant
    TOP_UP = "top_up"  # credits the payer's own platform wallet


class PaymentState(enum.Enum):
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CLOSED = "closed"
    UNKNOWN = "unknown"
    # Paid at the channel after another payment of the order had succeeded: refunded in full.
    DUPLICATE = "duplicate"

    @property
    def terminal(self) -> bool:
        return self in (
            PaymentState.SUCCEEDED,
            PaymentState.FAILED,
            PaymentState.CLOSED,
            PaymentState.DUPLICATE,
        )

    @property
    def captured(self) -> bool:
        """The channel took the money (and the ledger books it)."""
        return self in (PaymentState.SUCCEEDED, PaymentState.DUPLICATE)


class IllegalTransition(DomainError):
    kind = ErrorKind.FAILED_PRECONDITION
    reason = "PAYMENT_STATE_FINAL"


@dataclass(frozen=True, slots=True)
class CreatePayment:
    """A command to pay a merchant's business order."""

    request_id: str
    merchant_id: str
    merchant_order_no: str
    amount: Money
    method: PaymentMethod
    payer_user_id: str
    card_id: str = ""
    description: str = ""
    auth_factors: int = 1
    purpose: PaymentPurpose = PaymentPurpose.PURCHASE
    # The part of the amount the platform pays by its coupon, in the amount's currency.
    platform_coupon: int = 0

    @property
    def charged(self) -> Money:
        """What the payer is to pay on the channel: the amount less the platform's coupon."""
        return Money(self.amount.currency, self.amount.minor_units - self.platform_coupon)

    def request_hash(self) -> str:
        """Digest of the payload without request_id: a retry matches, a reuse does not."""
        body: dict[str, object] = {
            "merchant_id": self.merchant_id,
            "merchant_order_no": self.merchant_order_no,
            "amount": [self.amount.currency, self.amount.minor_units],
            "method": self.method.value,
            "payer_user_id": self.payer_user_id,
            "card_id": self.card_id,
            "description": self.description,
            "auth_factors": self.auth_factors,
        }
        if self.purpose is not PaymentPurpose.PURCHASE:  # hashes of purchases stay as they were
            body["purpose"] = self.purpose.value
        if self.platform_coupon:  # hashes of payments without a coupon stay as they were
            body["platform_coupon"] = self.platform_coupon
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Payment:
    payment_id: str
    request_id: str
    request_hash: str
    merchant_id: str
    merchant_order_no: str
    amount: Money
    method: PaymentMethod
    payer_user_id: str
    state: PaymentState
    channel: str
    trace_id: str
    created_at: datetime
    updated_at: datetime
    card_id: str = ""
    description: str = ""
    channel_transaction_id: str = ""
    failure_reason: str = ""
    fee: int = 0
    refunded: int = 0
    needs_reconciliation: bool = False
    purpose: PaymentPurpose = PaymentPurpose.PURCHASE
    # What the platform keeps of a captured purchase, at the merchant's fee rate as it was
    # when the payment was created (basis points).
    merchant_fee: int = 0
    merchant_fee_bps: int = 0
    # The part of the amount the platform pays by its coupon (marketing cost): the channel
    # charges the payer the rest.
    platform_coupon: int = 0
    # Bumped by every write: a change decided on an older version is refused, not applied.
    version: int = 0
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def charged(self) -> Money:
        """What the payer pays on the channel: the amount less the platform's coupon."""
        return Money(self.amount.currency, self.amount.minor_units - self.platform_coupon)

    @property
    def payee_account(self) -> str:
        """The ledger account a capture credits: the merchant's, or the payer's own wallet."""
        currency = self.amount.currency
        if self.purpose is PaymentPurpose.TOP_UP:
            return accounts.user_wallet(self.payer_user_id, currency)
        return accounts.merchant_payable(self.merchant_id, currency)

    def _evolved(self, **changes: Any) -> Payment:
        """dataclasses.replace at a third of its cost: a payment changes several times on the
        payment path, and replace walks its 28 fields in Python each time."""
        values = list(_field_values(self))
        for name, value in changes.items():
            values[_FIELD_INDEX[name]] = value
        return Payment(*values)

    def at_version(self, version: int) -> Payment:
        """As written: the version its write left."""
        return self._evolved(version=version)

    def with_fee_rate(self, merchant_fee_bps: int) -> Payment:
        """With the merchant's fee rate as it was when the payment was recorded."""
        return self._evolved(merchant_fee_bps=merchant_fee_bps)

    def flagged(self, needs_reconciliation: bool) -> Payment:
        """Marked (or no longer) as one reconciliation must look at."""
        return self._evolved(needs_reconciliation=needs_reconciliation)

    def _moved(self, state: PaymentState, now: datetime, **changes: object) -> Payment:
        if self.state.terminal:
            raise IllegalTransition(
                "payment is already final", metadata={"state": self.state.value}
            )
        return self._evolved(state=state, updated_at=now, **changes)

    def rerouted(self, channel: str, now: datetime) -> Payment:
        """Sent to another channel; only before any channel may have taken the money."""
        if self.state is not PaymentState.PROCESSING:
            raise IllegalTransition(
                "only a processing payment changes channel", metadata={"state": self.state.value}
            )
        return self._evolved(channel=channel, updated_at=now)

    def using_card(self, card_id: str) -> Payment:
        return self._evolved(card_id=card_id)

    def succeed(self, channel_transaction_id: str, fee: int, now: datetime) -> Payment:
        """Captured: a purchase pays the merchant less its fee; a top-up credits the wallet."""
        kept = 0
        if self.purpose is PaymentPurpose.PURCHASE:
            kept = fees.merchant_fee(self.amount.minor_units, self.merchant_fee_bps)
        return self._moved(
            PaymentState.SUCCEEDED,
            now,
            channel_transaction_id=channel_transaction_id,
            fee=fee,
            merchant_fee=kept,
        )

    def duplicate(self, channel_transaction_id: str, fee: int, now: datetime) -> Payment:
        """Paid, but the business order was already paid by another payment."""
        return self._moved(
            PaymentState.DUPLICATE,
            now,
            channel_transaction_id=channel_transaction_id,
            fee=fee,
            failure_reason="DUPLICATE_PAYMENT",
        )

    def fail(self, reason: str, now: datetime, channel_transaction_id: str = "") -> Payment:
        return self._moved(
            PaymentState.FAILED,
            now,
            failure_reason=reason,
            channel_transaction_id=channel_transaction_id or self.channel_transaction_id,
        )

    def close(self, now: datetime) -> Payment:
        """Closed unpaid; only once the channel is known not to have taken the money."""
        return self._moved(PaymentState.CLOSED, now)

    def unknown(self, now: datetime, channel_transaction_id: str = "") -> Payment:
        return self._moved(
            PaymentState.UNKNOWN,
            now,
            channel_transaction_id=channel_transaction_id or self.channel_transaction_id,
        )


_FIELD_NAMES = tuple(f.name for f in fields(Payment))
_field_values = attrgetter(*_FIELD_NAMES)
_FIELD_INDEX = MappingProxyType({name: i for i, name in enumerate(_FIELD_NAMES)})
