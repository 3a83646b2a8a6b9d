"""Pure tests of the gateway payment state machine and the request hash."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from gateway.domain.model import (
    CreatePayment,
    IllegalTransition,
    Payment,
    PaymentMethod,
    PaymentState,
)
from paysuite.errors import DomainError, ErrorKind
from paysuite.money import Money
from tests.gateway_payments import a_payment

CREATED = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
LATER = CREATED + timedelta(seconds=5)


def _payment(state: PaymentState = PaymentState.PROCESSING, channel_txn: str = "") -> Payment:
    return a_payment(CREATED, state=state, channel_transaction_id=channel_txn)


Move = Callable[[Payment], Payment]
MOVES: dict[str, Move] = {
    "succeed": lambda p: p.succeed("T1", 7, LATER),
    "fail": lambda p: p.fail("CARD_DECLINED", LATER),
    "unknown": lambda p: p.unknown(LATER),
    "duplicate": lambda p: p.duplicate("T2", 7, LATER),
}
TARGET = {
    "succeed": PaymentState.SUCCEEDED,
    "fail": PaymentState.FAILED,
    "unknown": PaymentState.UNKNOWN,
    "duplicate": PaymentState.DUPLICATE,
}


@pytest.mark.parametrize(
    ("state", "terminal"),
    [
        (PaymentState.PROCESSING, False),
        (PaymentState.UNKNOWN, False),
        (PaymentState.SUCCEEDED, True),
        (PaymentState.FAILED, True),
        (PaymentState.CLOSED, True),
        (PaymentState.DUPLICATE, True),
    ],
)
def test_terminal_states(state: PaymentState, terminal: bool) -> None:
    assert state.terminal is terminal


@pytest.mark.parametrize("move", ["succeed", "fail", "unknown", "duplicate"])
def test_processing_moves_to_any_outcome(move: str) -> None:
    payment = _payment()

    moved = MOVES[move](payment)

    assert moved.state is TARGET[move]
    assert moved.updated_at == LATER
    assert moved.created_at == CREATED
    assert payment.state is PaymentState.PROCESSING  # the original is untouched


@pytest.mark.parametrize("move", ["succeed", "fail", "duplicate"])
def test_unknown_resolves_to_success_or_failure(move: str) -> None:
    moved = MOVES[move](_payment(PaymentState.UNKNOWN))

    assert moved.state is TARGET[move]


@pytest.mark.parametrize(
    "state",
    [PaymentState.SUCCEEDED, PaymentState.FAILED, PaymentState.CLOSED, PaymentState.DUPLICATE],
)
@pytest.mark.parametrize("move", ["succeed", "fail", "unknown", "duplicate"])
def test_final_states_refuse_every_transition(state: PaymentState, move: str) -> None:
    payment = _payment(state)

    with pytest.raises(IllegalTransition) as raised:
        MOVES[move](payment)

    error = raised.value
    assert error.reason == "PAYMENT_STATE_FINAL"
    assert error.kind is ErrorKind.FAILED_PRECONDITION
    assert error.metadata == {"state": state.value}
    assert isinstance(error, DomainError)


def test_succeed_records_channel_transaction_and_fee() -> None:
    moved = _payment().succeed("T-42", 12, LATER)

    assert (moved.channel_transaction_id, moved.fee, moved.failure_reason) == ("T-42", 12, "")


def test_a_duplicate_is_captured_and_says_why() -> None:
    duplicate = _payment(PaymentState.UNKNOWN).duplicate("T2", 7, LATER)
    assert (duplicate.channel_transaction_id, duplicate.fee) == ("T2", 7)
    assert duplicate.failure_reason == "DUPLICATE_PAYMENT"
    assert duplicate.state.captured and PaymentState.SUCCEEDED.captured
    assert not any(s.captured for s in PaymentState if s not in TARGET.values())
    assert not PaymentState.FAILED.captured


def test_fail_records_reason_and_keeps_known_channel_transaction() -> None:
    moved = _payment(PaymentState.UNKNOWN, channel_txn="T-1").fail("INSUFFICIENT_FUNDS", LATER)

    assert moved.failure_reason == "INSUFFICIENT_FUNDS"
    assert moved.channel_transaction_id == "T-1"


def test_fail_and_unknown_take_a_new_channel_transaction() -> None:
    assert _payment(channel_txn="T-1").fail("X", LATER, "T-2").channel_transaction_id == "T-2"
    assert _payment(channel_txn="T-1").unknown(LATER, "T-3").channel_transaction_id == "T-3"
    assert _payment(channel_txn="T-1").unknown(LATER).channel_transaction_id == "T-1"


def test_using_card_changes_only_the_card() -> None:
    payment = _payment()

    with_card = payment.using_card("card_9")

    assert with_card.card_id == "card_9"
    assert dataclasses.replace(with_card, card_id="") == payment


# --- request_hash ----------------------------------------------------------------------------


def _command(**changes: object) -> CreatePayment:
    fields: dict[str, object] = {
        "request_id": "req_1",
        "merchant_id": "m1",
        "merchant_order_no": "o1",
        "amount": Money("CNY", 1234),
        "method": PaymentMethod.BANK_CARD,
        "payer_user_id": "u1",
        "card_id": "card_1",
        "description": "coffee",
    }
    fields.update(changes)
    return CreatePayment(**fields)  # type: ignore[arg-type]


def test_request_hash_ignores_request_id() -> None:
    assert _command(request_id="req_2").request_hash() == _command().request_hash()


def test_request_hash_is_stable_sha256_hex() -> None:
    digest = _command().request_hash()

    assert digest == _command().request_hash()
    assert len(digest) == 64
    assert set(digest) <= set("0123456789abcdef")


@pytest.mark.parametrize(
    "changes",
    [
        {"merchant_id": "m2"},
        {"merchant_order_no": "o2"},
        {"amount": Money("CNY", 1235)},
        {"amount": Money("USD", 1234)},
        {"method": PaymentMethod.ALIPAY},
        {"method": PaymentMethod.WECHAT_PAY},
        {"payer_user_id": "u2"},
        {"card_id": ""},
        {"card_id": "card_2"},
        {"description": ""},
        {"description": "coffee "},
    ],
)
def test_request_hash_changes_with_any_payload_field(changes: dict[str, object]) -> None:
    assert _command(**changes).request_hash() != _command().request_hash()


def test_request_hash_does_not_confuse_fields() -> None:
    # Moving text between adjacent fields must not produce the same digest.
    a = _command(merchant_id="m1o", merchant_order_no="1")
    b = _command(merchant_id="m1", merchant_order_no="o1")

    assert a.request_hash() != b.request_hash()


def _every_field_set() -> Payment:
    """A payment none of whose fields holds its default, so a lost field shows."""
    return dataclasses.replace(
        _payment(channel_txn="T0"),
        card_id="card_1",
        description="order",
        failure_reason="X",
        fee=3,
        refunded=4,
        needs_reconciliation=True,
        merchant_fee=5,
        merchant_fee_bps=60,
        platform_coupon=7,
        version=8,
        extra={"k": "v"},
    )


@pytest.mark.parametrize(
    ("change", "as_replaced"),
    [
        (lambda p: p.at_version(9), {"version": 9}),
        (lambda p: p.with_fee_rate(25), {"merchant_fee_bps": 25}),
        (lambda p: p.flagged(False), {"needs_reconciliation": False}),
        (lambda p: p.using_card("card_2"), {"card_id": "card_2"}),
        (lambda p: p.rerouted("other", LATER), {"channel": "other", "updated_at": LATER}),
    ],
    ids=["at_version", "with_fee_rate", "flagged", "using_card", "rerouted"],
)
def test_a_payments_copies_keep_every_other_field(
    change: Move, as_replaced: dict[str, object]
) -> None:
    payment = dataclasses.replace(_every_field_set(), needs_reconciliation=True)
    changed = change(payment)
    assert changed == dataclasses.replace(payment, **as_replaced)  # type: ignore[arg-type]
    assert payment.version == 8 and payment.card_id == "card_1"  # the original is untouched


def test_a_move_keeps_every_field_it_does_not_set() -> None:
    payment = dataclasses.replace(_every_field_set(), needs_reconciliation=False)
    failed = payment.fail("CARD_DECLINED", LATER)
    assert failed == dataclasses.replace(
        payment, state=PaymentState.FAILED, updated_at=LATER, failure_reason="CARD_DECLINED"
    )
