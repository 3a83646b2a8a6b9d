"""Payouts' state machine and what each answer of the bank writes with it; no I/O."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from gateway.domain.answers import Message, MessageKind
from gateway.domain.payouts import (
    CreateSettlementPayout,
    CreateWithdrawal,
    Payout,
    PayoutChange,
    PayoutPurpose,
    PayoutState,
    PayoutStateFinal,
    decide,
    hold_transfer,
    refused,
    returned_answer,
)
from gateway.domain.ports import ChannelOutcome, LedgerPosting, PayoutAnswer, PayoutReturn
from paysuite.money import Money

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=2)
WALLET = "user.U1.wallet.CNY"
PAYABLE = "merchant.M1.payable.CNY"
PAYOUTS = "channel.banksim.payouts.CNY"
FEES = "platform.channel_fee_expense.CNY"

PAID = PayoutAnswer(ChannelOutcome.SUCCEEDED, "P2026120700001", fee_minor_units=100)
DECLINED = PayoutAnswer(ChannelOutcome.FAILED, "P2026120700002", error_code="ACCOUNT_ABNORMAL")
TIMED_OUT = PayoutAnswer(ChannelOutcome.UNKNOWN, error_code="TimeoutError")
PROCESSING = PayoutAnswer(ChannelOutcome.PENDING, "P2026120700003")
BACK = PayoutReturn("po_1", "ACCOUNT_CLOSED", LATER)


def payout(
    purpose: PayoutPurpose = PayoutPurpose.WITHDRAWAL,
    state: PayoutState = PayoutState.PROCESSING,
) -> Payout:
    owner = "U1" if purpose is PayoutPurpose.WITHDRAWAL else "M1"
    return Payout(
        payout_id="po_1",
        request_id="r-1",
        request_hash="h",
        purpose=purpose,
        owner_id=owner,
        amount=Money("CNY", 5_000),
        channel="banksim",
        payee="card_1",
        state=state,
        trace_id="t" * 32,
        created_at=NOW,
        updated_at=NOW,
    )


def kinds(change: PayoutChange) -> list[tuple[str, str]]:
    return [(m.kind.value, m.key) for m in change.messages]


def postings(message: Message) -> list[list[object]]:
    found: list[list[object]] = message.payload["postings"]  # type: ignore[assignment]
    return found


def test_a_withdrawal_holds_the_wallet_for_the_payouts_account_without_expiry() -> None:
    hold = hold_transfer(payout())
    assert (hold.transfer_id, hold.pending) == ("po_1:hold", True)
    assert hold.postings == [LedgerPosting(WALLET, PAYOUTS, Money("CNY", 5_000))]
    assert hold.metadata == {"payout_id": "po_1", "purpose": "withdrawal"}
    settlement = hold_transfer(payout(PayoutPurpose.SETTLEMENT))
    assert settlement.postings[0].debit_account_id == PAYABLE


def test_paid_posts_the_hold_books_the_fee_and_commits_the_limit() -> None:
    change = decide(payout(), PAID, NOW)
    assert change is not None
    paid = change.payout
    assert (paid.state, paid.channel_transaction_id, paid.fee) == (
        PayoutState.SUCCEEDED,
        "P2026120700001",
        100,
    )
    assert kinds(change) == [
        ("ledger_post_pending", "po_1:payout"),
        ("limit_commit", "po_1:limit_commit"),
        ("ledger_transfer", "po_1:payout-fee"),
    ]
    assert change.messages[0].payload == {"pending_transfer_id": "po_1:hold"}
    assert postings(change.messages[2]) == [[FEES, PAYOUTS, "CNY", 100]]
    assert change.schedule is not None and change.schedule.at is None


def test_a_settlement_has_no_limit_to_settle_and_no_fee_message_without_a_fee() -> None:
    free = replace(PAID, fee_minor_units=0)
    change = decide(payout(PayoutPurpose.SETTLEMENT), free, NOW)
    assert change is not None
    assert kinds(change) == [("ledger_post_pending", "po_1:payout")]


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (DECLINED, "ACCOUNT_ABNORMAL"),
        (PayoutAnswer(ChannelOutcome.FAILED), "CHANNEL_DECLINED"),
        (
            PayoutAnswer(ChannelOutcome.NOT_SENT, error_code="CHANNEL_UNREACHABLE"),
            "CHANNEL_UNREACHABLE",
        ),
    ],
)
def test_refused_voids_the_hold_and_releases_the_limit(answer: PayoutAnswer, reason: str) -> None:
    change = decide(payout(), answer, NOW)
    assert change is not None
    assert (change.payout.state, change.payout.failure_reason) == (PayoutState.FAILED, reason)
    assert kinds(change) == [
        ("ledger_void_pending", "po_1:void"),
        ("limit_release", "po_1:limit_release"),
    ]
    void = change.messages[0].payload
    assert void["pending_transfer_id"] == "po_1:hold"
    # The hold itself, for the relay to make (and void) should the void find none.
    assert void["hold"] == {
        "description": "payout hold",
        "metadata": {"payout_id": "po_1", "purpose": "withdrawal"},
        "postings": [[WALLET, PAYOUTS, "CNY", 5000]],
    }


@pytest.mark.parametrize("answer", [TIMED_OUT, PROCESSING])
def test_no_definite_answer_keeps_hold_and_limit_and_asks_again_soon(answer: PayoutAnswer) -> None:
    change = decide(payout(), answer, NOW)
    assert change is not None
    assert change.payout.state is PayoutState.UNKNOWN
    assert change.messages == ()
    assert change.schedule is not None and change.schedule.at == NOW + timedelta(seconds=5)
    # Asked again and still unknown: nothing moves, the janitor keeps its own schedule.
    again = decide(change.payout, TIMED_OUT, NOW)
    assert again is not None and again.schedule is None and again.messages == ()


@pytest.mark.parametrize(
    ("answer", "state"),
    [(PAID, PayoutState.SUCCEEDED), (DECLINED, PayoutState.FAILED)],
)
def test_an_unknown_payout_is_resolved_by_the_banks_answer(
    answer: PayoutAnswer, state: PayoutState
) -> None:
    unknown = payout(state=PayoutState.UNKNOWN)
    change = decide(unknown, answer, NOW)
    assert change is not None and change.payout.state is state
    assert change.schedule is not None and change.schedule.at is None


def test_a_paid_payout_that_comes_back_puts_the_money_back_where_it_came_from() -> None:
    for purpose, source in (
        (PayoutPurpose.WITHDRAWAL, WALLET),
        (PayoutPurpose.SETTLEMENT, PAYABLE),
    ):
        paid = payout(purpose, PayoutState.SUCCEEDED)
        change = decide(paid, returned_answer(BACK), NOW)
        assert change is not None
        back = change.payout
        assert (back.state, back.return_reason, back.returned_at) == (
            PayoutState.RETURNED,
            "ACCOUNT_CLOSED",
            LATER,
        )
        # A withdrawal's limit use is given back too: the money never left the user.
        limit = [("limit_return", "po_1:limit_return")] if source == WALLET else []
        assert kinds(change) == [("ledger_transfer", "po_1:return"), *limit]
        assert postings(change.messages[0]) == [[PAYOUTS, source, "CNY", 5_000]]
        # The same return heard again changes nothing.
        assert decide(back, returned_answer(BACK), NOW) is None


def test_an_unknown_payout_found_paid_and_already_returned_does_both() -> None:
    answer = replace(PAID, returned=BACK)
    change = decide(payout(state=PayoutState.UNKNOWN), answer, NOW)
    assert change is not None
    assert change.payout.state is PayoutState.RETURNED
    assert [key for _, key in kinds(change)] == [
        "po_1:payout",
        "po_1:limit_return",  # used and given back at once: never committed
        "po_1:payout-fee",
        "po_1:return",
    ]


@pytest.mark.parametrize(
    ("state", "answer"),
    [
        (PayoutState.FAILED, PAID),
        (PayoutState.SUCCEEDED, DECLINED),
        (PayoutState.RETURNED, DECLINED),
        (PayoutState.RETURNED, PAID),
    ],
)
def test_an_answer_contradicting_the_outcome_goes_to_reconciliation_once(
    state: PayoutState, answer: PayoutAnswer
) -> None:
    final = payout(state=state)
    change = decide(final, answer, NOW)
    assert change is not None
    assert change.payout.state is state and change.payout.needs_reconciliation
    assert change.messages == ()
    assert decide(change.payout, answer, NOW) is None


@pytest.mark.parametrize(
    ("state", "answer"),
    [
        (PayoutState.SUCCEEDED, PAID),
        (PayoutState.FAILED, DECLINED),
        (PayoutState.SUCCEEDED, TIMED_OUT),
        (PayoutState.FAILED, TIMED_OUT),
    ],
)
def test_an_answer_agreeing_with_the_outcome_changes_nothing(
    state: PayoutState, answer: PayoutAnswer
) -> None:
    assert decide(payout(state=state), answer, NOW) is None


def test_a_payout_the_bank_answered_cannot_move_again() -> None:
    for state in (PayoutState.SUCCEEDED, PayoutState.FAILED, PayoutState.RETURNED):
        with pytest.raises(PayoutStateFinal):
            payout(state=state).fail("X", NOW)
    for state in (PayoutState.PROCESSING, PayoutState.UNKNOWN, PayoutState.FAILED):
        with pytest.raises(PayoutStateFinal):
            payout(state=state).returned("ACCOUNT_CLOSED", LATER, NOW)


def test_refused_before_the_bank_undoes_only_what_was_done() -> None:
    by_identity = refused(payout(), "PAYER_LIMIT_EXCEEDED", NOW, held=False, reserved=False)
    assert by_identity.messages == ()
    by_ledger = refused(payout(), "INSUFFICIENT_BALANCE", NOW, held=False)
    assert kinds(by_ledger) == [("limit_release", "po_1:limit_release")]
    ledger_down = refused(payout(), "LEDGER_UNAVAILABLE", NOW)
    assert [kind for kind, _ in kinds(ledger_down)] == ["ledger_void_pending", "limit_release"]
    assert ledger_down.payout.failure_reason == "LEDGER_UNAVAILABLE"


def test_request_hashes_tell_a_retry_from_another_request() -> None:
    ask = CreateWithdrawal("r-1", "U1", Money("CNY", 100), "card_1")
    assert ask.request_hash() == replace(ask, request_id="r-2").request_hash()
    assert ask.request_hash() != replace(ask, amount=Money("CNY", 101)).request_hash()
    assert ask.request_hash() != replace(ask, card_id="").request_hash()
    settle = CreateSettlementPayout("r-1", "M1", Money("CNY", 100), "6222020200112345", "Shop")
    assert settle.request_hash() != replace(settle, account_no="6222020200112346").request_hash()
    assert (settle.payee, settle.owner_id) == ("****2345", "M1")


def test_message_kinds_say_what_they_settle() -> None:
    assert MessageKind.LIMIT_COMMIT.settles_limit and not MessageKind.LIMIT_COMMIT.settles_hold
    assert MessageKind.LEDGER_VOID_PENDING.settles_hold
    assert not MessageKind.LEDGER_TRANSFER.settles_limit
    assert not MessageKind.LEDGER_TRANSFER.settles_hold
