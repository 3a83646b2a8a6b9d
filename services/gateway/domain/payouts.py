"""Payouts (代付): money paid out of the platform through a bank, as pessimistic as payments.

A payout first holds the account it pays from (a two-phase ledger hold, made before the bank is
asked). The bank's answer settles it: paid, the hold is posted and the bank's fee booked as an
expense; refused, the hold is voided; no definite answer, the payout is unknown and asked about
again until the bank says. A paid payout the payee's bank sends back (退票) is returned: the
money goes back to the account it was paid from, to be paid out again. Every ledger posting
and limit settlement goes through the outbox, keyed by the payout, so none happens twice.

    processing ──▶ succeeded ──▶ returned
        │ ▲            ▲
        ▼ │            │
      unknown ─────────┤
        │              │
        └──────▶ failed (from processing or unknown)
"""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from gateway.domain.answers import Message, MessageKind, Schedule, limit_message, transfer_message
from gateway.domain.ports import (
    ChannelOutcome,
    LedgerPosting,
    LedgerTransfer,
    PayoutAnswer,
    PayoutReturn,
)
from gateway.domain.status import next_query_delay
from paysuite import accounts
from paysuite.errors import DomainError, ErrorKind
from paysuite.money import Money


class PayoutPurpose(enum.Enum):
    SETTLEMENT = "settlement"  # pays a merchant what it is owed, to its bank account
    WITHDRAWAL = "withdrawal"  # pays a user's wallet out to their bound card


class PayoutState(enum.Enum):
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    UNKNOWN = "unknown"
    # Paid, then sent back by the payee's bank: the money is back where it was paid from.
    RETURNED = "returned"

    @property
    def open(self) -> bool:
        """The bank has not answered definitely yet."""
        return self in (PayoutState.PROCESSING, PayoutState.UNKNOWN)

    @property
    def final(self) -> bool:
        return self in (PayoutState.FAILED, PayoutState.RETURNED)


class PayoutStateFinal(DomainError):
    kind = ErrorKind.FAILED_PRECONDITION
    reason = "PAYOUT_STATE_FINAL"


def _digest(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class CreateSettlementPayout:
    """A command to pay a merchant's settlement out to its bank account."""

    request_id: str
    merchant_id: str
    amount: Money
    account_no: str
    account_name: str
    remark: str = ""
    # The merchant's ledger account paid from (settlement's settling account); its payable
    # when empty.
    source_account_id: str = ""

    def request_hash(self) -> str:
        """Digest of the payload without request_id: a retry matches, a reuse does not."""
        body: dict[str, Any] = {
            "purpose": PayoutPurpose.SETTLEMENT.value,
            "merchant_id": self.merchant_id,
            "amount": [self.amount.currency, self.amount.minor_units],
            "account": [self.account_no, self.account_name],
            "remark": self.remark,
        }
        if self.source_account_id:
            body["source_account"] = self.source_account_id
        return _digest(body)

    @property
    def purpose(self) -> PayoutPurpose:
        return PayoutPurpose.SETTLEMENT

    @property
    def owner_id(self) -> str:
        return self.merchant_id

    @property
    def payee(self) -> str:
        """The account as a payout keeps it: masked."""
        return "****" + self.account_no[-4:]


@dataclass(frozen=True, slots=True)
class CreateWithdrawal:
    """A command to pay part of a user's platform wallet out to their bound card."""

    request_id: str
    user_id: str
    amount: Money
    card_id: str = ""
    auth_factors: int = 1

    @property
    def purpose(self) -> PayoutPurpose:
        return PayoutPurpose.WITHDRAWAL

    @property
    def owner_id(self) -> str:
        return self.user_id

    @property
    def payee(self) -> str:
        """The card asked for; the default card (named by identity later) when empty."""
        return self.card_id

    @property
    def source_account_id(self) -> str:
        """A withdrawal is paid from the user's wallet."""
        return ""

    def request_hash(self) -> str:
        return _digest(
            {
                "purpose": PayoutPurpose.WITHDRAWAL.value,
                "user_id": self.user_id,
                "amount": [self.amount.currency, self.amount.minor_units],
                "card_id": self.card_id,
                "auth_factors": self.auth_factors,
            }
        )


@dataclass(frozen=True, slots=True)
class Payout:
    payout_id: str
    request_id: str
    request_hash: str
    purpose: PayoutPurpose
    # The merchant settled, or the user withdrawing.
    owner_id: str
    amount: Money
    channel: str
    # The bound card's id (a withdrawal), or the masked bank account (a settlement).
    payee: str
    state: PayoutState
    trace_id: str
    created_at: datetime
    updated_at: datetime
    channel_transaction_id: str = ""
    failure_reason: str = ""
    fee: int = 0
    needs_reconciliation: bool = False
    return_reason: str = ""
    returned_at: datetime | None = None
    # Bumped by every write: a change decided on an older version is refused, not applied.
    version: int = 0
    # The account paid from when the request named one (empty: the payable or the wallet).
    source_account_id: str = ""

    @property
    def source_account(self) -> str:
        """The ledger account the payout is paid from: the one the request named, else the
        merchant's payable or the wallet."""
        if self.source_account_id:
            return self.source_account_id
        currency = self.amount.currency
        if self.purpose is PayoutPurpose.WITHDRAWAL:
            return accounts.user_wallet(self.owner_id, currency)
        return accounts.merchant_payable(self.owner_id, currency)

    @property
    def payouts_account(self) -> str:
        return accounts.channel_payouts(self.channel, self.amount.currency)

    @property
    def merchant_id(self) -> str:
        """The merchant whose event stream tells of the payout: a settlement's; "" for a
        withdrawal."""
        return self.owner_id if self.purpose is PayoutPurpose.SETTLEMENT else ""

    @classmethod
    def start(
        cls,
        command: CreateSettlementPayout | CreateWithdrawal,
        payout_id: str,
        channel: str,
        trace_id: str,
        now: datetime,
    ) -> Payout:
        """A new payout of the command on the channel, processing until the bank answers."""
        return cls(
            payout_id=payout_id,
            request_id=command.request_id,
            request_hash=command.request_hash(),
            purpose=command.purpose,
            owner_id=command.owner_id,
            amount=command.amount,
            channel=channel,
            payee=command.payee,
            state=PayoutState.PROCESSING,
            trace_id=trace_id,
            created_at=now,
            updated_at=now,
            source_account_id=command.source_account_id,
        )

    def _moved(self, state: PayoutState, now: datetime, **changes: Any) -> Payout:
        if not self.state.open:
            raise PayoutStateFinal(
                "the bank has answered the payout", metadata={"state": self.state.value}
            )
        return replace(self, state=state, updated_at=now, **changes)

    def paying_to(self, payee: str) -> Payout:
        """The payee known once identity named the card (a withdrawal to the default card)."""
        return replace(self, payee=payee)

    def succeed(self, channel_transaction_id: str, fee: int, now: datetime) -> Payout:
        return self._moved(
            PayoutState.SUCCEEDED,
            now,
            channel_transaction_id=channel_transaction_id or self.channel_transaction_id,
            fee=fee,
        )

    def fail(self, reason: str, now: datetime, channel_transaction_id: str = "") -> Payout:
        return self._moved(
            PayoutState.FAILED,
            now,
            failure_reason=reason,
            channel_transaction_id=channel_transaction_id or self.channel_transaction_id,
        )

    def unknown(self, now: datetime, channel_transaction_id: str = "") -> Payout:
        return self._moved(
            PayoutState.UNKNOWN,
            now,
            channel_transaction_id=channel_transaction_id or self.channel_transaction_id,
        )

    def returned(self, reason: str, returned_at: datetime, now: datetime) -> Payout:
        """Sent back by the payee's bank after it was paid."""
        if self.state is not PayoutState.SUCCEEDED:
            raise PayoutStateFinal(
                "only a paid payout comes back", metadata={"state": self.state.value}
            )
        return replace(
            self,
            state=PayoutState.RETURNED,
            updated_at=now,
            return_reason=reason,
            returned_at=returned_at,
        )


# The ledger transfers of a payout, by id: each derived from the payout, so each posts once.
def hold_key(payout_id: str) -> str:
    return f"{payout_id}:hold"


def post_key(payout_id: str) -> str:
    return f"{payout_id}:payout"


def void_key(payout_id: str) -> str:
    return f"{payout_id}:void"


def fee_key(payout_id: str) -> str:
    return f"{payout_id}:payout-fee"


def return_key(payout_id: str) -> str:
    return f"{payout_id}:return"


def _metadata(payout: Payout) -> dict[str, str]:
    return {"payout_id": payout.payout_id, "purpose": payout.purpose.value}


def _hold_postings(payout: Payout) -> list[LedgerPosting]:
    return [LedgerPosting(payout.source_account, payout.payouts_account, payout.amount)]


def hold_transfer(payout: Payout) -> LedgerTransfer:
    """Holds the amount on the account paid from, before the bank is asked; it never expires
    by itself (a payout can stay unknown for long)."""
    return LedgerTransfer(
        hold_key(payout.payout_id),
        _hold_postings(payout),
        "payout hold",
        _metadata(payout),
        pending=True,
    )


def _hold_message(payout: Payout, post: bool) -> Message:
    """Posts or voids the hold. A void carries the hold itself: should it find no hold (one
    still on its way to the ledger), the relay makes the hold under its id first, so a late
    one lands as the same transfer, and voids it."""
    hold_id = hold_key(payout.payout_id)
    if post:
        return Message(
            MessageKind.LEDGER_POST_PENDING,
            post_key(payout.payout_id),
            {"pending_transfer_id": hold_id},
        )
    hold = transfer_message(hold_id, _hold_postings(payout), "payout hold", _metadata(payout))
    return Message(
        MessageKind.LEDGER_VOID_PENDING,
        void_key(payout.payout_id),
        {"pending_transfer_id": hold_id, "hold": hold.payload},
    )


def _fee_message(payout: Payout) -> Message:
    currency = payout.amount.currency
    posting = LedgerPosting(
        accounts.channel_fee_expense(currency), payout.payouts_account, Money(currency, payout.fee)
    )
    return transfer_message(fee_key(payout.payout_id), [posting], "payout fee", _metadata(payout))


def _return_message(payout: Payout) -> Message:
    posting = LedgerPosting(payout.payouts_account, payout.source_account, payout.amount)
    return transfer_message(
        return_key(payout.payout_id), [posting], "payout returned", _metadata(payout)
    )


def _limit(payout: Payout, kind: MessageKind) -> tuple[Message, ...]:
    """A withdrawal's limit use (settlements reserve none)."""
    if payout.purpose is not PayoutPurpose.WITHDRAWAL:
        return ()
    return (limit_message(payout.payout_id, kind),)


@dataclass(frozen=True, slots=True)
class PayoutChange:
    """A payout as it is to be written, with its outbox messages and its next query."""

    payout: Payout
    messages: tuple[Message, ...] = ()
    schedule: Schedule | None = None
    # The event it makes in the merchant's event stream (a settlement's): "payout.succeeded",
    # "payout.failed", "payout.returned"; "" for none.
    event: str = ""


def _paid(current: Payout, answer: PayoutAnswer, now: datetime) -> PayoutChange:
    paid = current.succeed(answer.channel_transaction_id, answer.fee_minor_units, now)
    back = answer.returned
    limit = MessageKind.LIMIT_COMMIT if back is None else MessageKind.LIMIT_RETURN
    messages = [_hold_message(paid, post=True), *_limit(paid, limit)]
    if paid.fee > 0:
        messages.append(_fee_message(paid))
    if back is not None:  # paid and already back by the time we heard of it
        paid = paid.returned(back.reason, back.returned_at, now)
        messages.append(_return_message(paid))
    event = "payout.succeeded" if back is None else "payout.returned"
    return PayoutChange(
        replace(paid, needs_reconciliation=False), tuple(messages), Schedule(None, 0), event
    )


def refused(
    current: Payout,
    reason: str,
    now: datetime,
    *,
    held: bool = True,
    reserved: bool = True,
    channel_transaction_id: str = "",
) -> PayoutChange:
    """Failed, nothing paid: the hold voided (when one may have been made) and the limit use
    released (when one may have been reserved)."""
    failed = current.fail(reason, now, channel_transaction_id)
    messages = [_hold_message(failed, post=False)] if held else []
    if reserved:
        messages.extend(_limit(failed, MessageKind.LIMIT_RELEASE))
    return PayoutChange(
        replace(failed, needs_reconciliation=False),
        tuple(messages),
        Schedule(None, 0),
        "payout.failed",
    )


def _indefinite(current: Payout, answer: PayoutAnswer, now: datetime) -> PayoutChange:
    # The hold and the limit use stay until the bank says.
    updated = current.unknown(now, answer.channel_transaction_id)
    if current.state is not PayoutState.PROCESSING:
        return PayoutChange(updated)
    delay = next_query_delay(0)
    assert delay is not None
    return PayoutChange(updated, schedule=Schedule(now + delay, 0))


def _contradicts(state: PayoutState, answer: PayoutAnswer) -> bool:
    paid = answer.outcome is ChannelOutcome.SUCCEEDED
    refused = answer.outcome is ChannelOutcome.FAILED
    match state:
        case PayoutState.FAILED:
            return paid
        case PayoutState.SUCCEEDED:
            return refused
        case PayoutState.RETURNED:
            return refused or (paid and answer.returned is None)
        case _:
            return False


def _after_outcome(current: Payout, answer: PayoutAnswer, now: datetime) -> PayoutChange | None:
    back = answer.returned
    if current.state is PayoutState.SUCCEEDED and back is not None:
        returned = current.returned(back.reason, back.returned_at, now)
        limit = _limit(returned, MessageKind.LIMIT_RETURN)  # the withdrawal's use given back
        return PayoutChange(returned, (_return_message(returned), *limit), event="payout.returned")
    if not _contradicts(current.state, answer) or current.needs_reconciliation:
        return None
    # The bank now says otherwise than it did: reconciliation's to sort out, never guessed at.
    return PayoutChange(
        replace(current, needs_reconciliation=True, updated_at=now), schedule=Schedule(None, 0)
    )


def decide(current: Payout, answer: PayoutAnswer, now: datetime) -> PayoutChange | None:
    """The change the bank's answer makes to the payout; None when it makes none."""
    if not current.state.open:
        return _after_outcome(current, answer, now)
    match answer.outcome:
        case ChannelOutcome.SUCCEEDED:
            return _paid(current, answer, now)
        case ChannelOutcome.FAILED | ChannelOutcome.NOT_SENT:
            reason = answer.error_code or "CHANNEL_DECLINED"
            return refused(
                current, reason, now, channel_transaction_id=answer.channel_transaction_id
            )
        case _:
            return _indefinite(current, answer, now)


def returned_answer(back: PayoutReturn) -> PayoutAnswer:
    """A return the bank listed, as the answer its query would give."""
    return PayoutAnswer(ChannelOutcome.SUCCEEDED, returned=back)
