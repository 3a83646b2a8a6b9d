"""What a channel's answer does to a payment: its new state and everything written with it.

A success books the capture and commits the payer's limit use (a success on a business order
another payment already paid is a duplicate: its limit use is released and it is refunded in
full); a failure releases the limit use and the channel's daily volume; an indefinite answer
keeps both and asks again later. An answer contradicting a final state changes nothing but
hands the payment to reconciliation.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from gateway.domain.coupons import paired
from gateway.domain.model import Payment, PaymentState
from gateway.domain.ports import ChannelAnswer, ChannelOutcome, LedgerPosting
from gateway.domain.status import next_query_delay
from paysuite import accounts
from paysuite.money import Money


class MessageKind(enum.Enum):
    """What the outbox carries to other services after a payment's (or payout's) change
    commits."""

    LEDGER_TRANSFER = "ledger_transfer"
    LIMIT_COMMIT = "limit_commit"
    LIMIT_RELEASE = "limit_release"
    # A committed use given back: a withdrawal the payee's bank returned (退票).
    LIMIT_RETURN = "limit_return"
    # A two-phase hold posted or voided (payouts); the payload names the hold.
    LEDGER_POST_PENDING = "ledger_post_pending"
    LEDGER_VOID_PENDING = "ledger_void_pending"

    @property
    def settles_limit(self) -> bool:
        return self in (
            MessageKind.LIMIT_COMMIT,
            MessageKind.LIMIT_RELEASE,
            MessageKind.LIMIT_RETURN,
        )

    @property
    def settles_hold(self) -> bool:
        return self in (MessageKind.LEDGER_POST_PENDING, MessageKind.LEDGER_VOID_PENDING)


@dataclass(frozen=True, slots=True)
class Message:
    """An outbox message; its key makes it idempotent (a ledger transfer id, a limit's)."""

    kind: MessageKind
    key: str
    payload: Mapping[str, object]


@dataclass(frozen=True, slots=True)
class Schedule:
    """When the janitor next asks the channel (None: never) and how often it has asked."""

    at: datetime | None
    attempts: int


@dataclass(frozen=True, slots=True)
class Change:
    """A payment as it is to be written, with what is written alongside it in one go."""

    payment: Payment
    messages: tuple[Message, ...] = ()
    event: str = ""
    # The channel's word on the latest attempt: (outcome, error code).
    attempt: tuple[str, str] | None = None
    schedule: Schedule | None = None
    release_volume: bool = False


def transfer_message(
    key: str, postings: list[LedgerPosting], description: str, metadata: Mapping[str, str]
) -> Message:
    return Message(
        MessageKind.LEDGER_TRANSFER,
        key,
        {
            "description": description,
            "metadata": dict(metadata),
            "postings": [
                [p.debit_account_id, p.credit_account_id, p.amount.currency, p.amount.minor_units]
                for p in postings
            ],
        },
    )


def limit_message(payment_id: str, kind: MessageKind) -> Message:
    """Commits or releases the limit reservation identity holds under the payment's id (a
    payout's, for a withdrawal)."""
    return Message(kind, f"{payment_id}:{kind.value}", {"payment_id": payment_id})


def capture_postings(payment: Payment) -> list[LedgerPosting]:
    """The merchant is owed the amount less the platform's fee (a top-up: the payer's wallet, all
    of it); the channel owes what it charged (the amount less the platform's coupon, which the
    platform pays as marketing cost) less the fee it keeps."""
    currency = payment.amount.currency
    receivable = accounts.channel_receivable(payment.channel, currency)
    kept = payment.merchant_fee
    postings = paired(
        currency,
        [
            (accounts.marketing_cost(currency), payment.platform_coupon),
            (receivable, payment.charged.minor_units),
        ],
        [
            (payment.payee_account, payment.amount.minor_units - kept),
            (accounts.fee_income(currency), kept),
        ],
    )
    if payment.fee > 0:
        postings.append(
            LedgerPosting(
                accounts.channel_fee_expense(currency), receivable, Money(currency, payment.fee)
            )
        )
    return postings


def capture_key(payment_id: str) -> str:
    """The capture's ledger transfer id (and outbox key): one per payment, so posted once."""
    return f"{payment_id}:capture"


def capture_message(payment: Payment) -> Message:
    return transfer_message(
        capture_key(payment.payment_id),
        capture_postings(payment),
        "payment capture",
        {"payment_id": payment.payment_id, "merchant_order_no": payment.merchant_order_no},
    )


def _contradicts(state: PaymentState, outcome: ChannelOutcome) -> bool:
    return (state.captured and outcome is ChannelOutcome.FAILED) or (
        state in (PaymentState.FAILED, PaymentState.CLOSED) and outcome is ChannelOutcome.SUCCEEDED
    )


def _on_final(current: Payment, answer: ChannelAnswer, now: datetime) -> Change | None:
    if not _contradicts(current.state, answer.outcome) or current.needs_reconciliation:
        return None
    return Change(
        replace(current, needs_reconciliation=True, updated_at=now),
        event="payment.exception",
        schedule=Schedule(None, 0),
    )


def _captured(current: Payment, answer: ChannelAnswer, now: datetime, paid: bool) -> Change:
    if paid:
        updated = current.duplicate(answer.channel_transaction_id, answer.fee_minor_units, now)
    else:
        updated = current.succeed(answer.channel_transaction_id, answer.fee_minor_units, now)
    # A duplicate's money goes back to the payer, so its limit use does too.
    limit = MessageKind.LIMIT_RELEASE if paid else MessageKind.LIMIT_COMMIT
    return Change(
        updated.flagged(False),
        messages=(capture_message(updated), limit_message(updated.payment_id, limit)),
        event=f"payment.{updated.state.value}",
        schedule=Schedule(None, 0),
    )


def _refused(current: Payment, answer: ChannelAnswer, now: datetime, closing: bool) -> Change:
    if closing:
        updated = current.close(now)
    else:
        reason = answer.error_code or "CHANNEL_DECLINED"
        updated = current.fail(reason, now, answer.channel_transaction_id)
    return Change(
        updated.flagged(False),
        messages=(limit_message(updated.payment_id, MessageKind.LIMIT_RELEASE),),
        event=f"payment.{updated.state.value}",
        schedule=Schedule(None, 0),
        release_volume=True,
    )


def _indefinite(current: Payment, answer: ChannelAnswer, now: datetime) -> Change:
    # The limit reservation stays until the payment is resolved.
    updated = current.unknown(now, answer.channel_transaction_id)
    if current.state is not PaymentState.PROCESSING:
        return Change(updated)
    delay = next_query_delay(0)
    assert delay is not None
    return Change(
        updated.flagged(False),
        event="payment.unknown",
        schedule=Schedule(now + delay, 0),
    )


def decide(
    current: Payment,
    answer: ChannelAnswer,
    now: datetime,
    *,
    order_paid: bool = False,
    closing: bool = False,
    card_id: str | None = None,
) -> Change | None:
    """The change the answer makes; None when it makes none. `order_paid`: another payment of
    the business order has succeeded (the database says so when this one tries to)."""
    if current.state.terminal:
        return _on_final(current, answer, now)
    if card_id is not None:
        current = current.using_card(card_id)
    match answer.outcome:
        case ChannelOutcome.SUCCEEDED:
            change = _captured(current, answer, now, order_paid)
        case ChannelOutcome.FAILED | ChannelOutcome.NOT_SENT:
            change = _refused(current, answer, now, closing)
        case _:
            change = _indefinite(current, answer, now)
    # Some channels put their success code where errors go: an attempt that worked has none.
    error = "" if answer.outcome is ChannelOutcome.SUCCEEDED else answer.error_code
    return replace(change, attempt=(answer.outcome.value, error))


def refused_before_charge(current: Payment, reason: str, now: datetime) -> Change:
    """The payer was refused before any channel saw the payment (nothing was reserved of their
    limits): failed, nothing to ask."""
    updated = current.fail(reason, now)
    return Change(
        updated,
        event="payment.failed",
        schedule=Schedule(None, 0),
        release_volume=True,
    )
