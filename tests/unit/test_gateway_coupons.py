"""Platform coupons in the gateway's books: a capture's and a refund's postings balance with the
coupon paid by marketing cost, and refunds split between the payer and the coupon so the payer
never gets back more than they paid."""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.domain import fees
from gateway.domain.answers import capture_postings
from gateway.domain.coupons import paired, refund_coupon_share
from gateway.domain.model import CreatePayment, Payment, PaymentMethod
from gateway.domain.ports import LedgerPosting
from gateway.domain.refunds import Refund, RefundState, refund_postings
from paysuite import accounts
from paysuite.money import Money
from tests.gateway_payments import a_payment

NOW = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
RECEIVABLE = accounts.channel_receivable("banksim", "CNY")
PAYABLE = accounts.merchant_payable("M1", "CNY")
MARKETING = accounts.marketing_cost("CNY")
FEE_INCOME = accounts.fee_income("CNY")
FEE_EXPENSE = accounts.channel_fee_expense("CNY")


def _payment(amount: int, coupon: int, fee_bps: int = 60, channel_fee: int = 0) -> Payment:
    created = a_payment(
        NOW,
        merchant_id="M1",
        amount=Money("CNY", amount),
        trace_id="t",
        merchant_fee_bps=fee_bps,
        platform_coupon=coupon,
    )
    return created.succeed("T1", channel_fee, NOW)


def _refund(amount: int, coupon_share: int) -> Refund:
    return Refund(
        refund_id="rfd_1",
        request_id="r1",
        request_hash="h",
        payment_id="pay_1",
        amount=Money("CNY", amount),
        state=RefundState.SUCCEEDED,
        reason="",
        trace_id="t",
        created_at=NOW,
        updated_at=NOW,
        platform_coupon=coupon_share,
    )


def _net(postings: list[LedgerPosting]) -> Counter[str]:
    """Each account's debits less credits."""
    moved: Counter[str] = Counter()
    for p in postings:
        assert p.amount.minor_units > 0
        moved[p.debit_account_id] += p.amount.minor_units
        moved[p.credit_account_id] -= p.amount.minor_units
    return moved


def test_a_coupon_payment_is_charged_the_amount_less_the_coupon() -> None:
    payment = _payment(10_000, 1_500)
    assert payment.charged == Money("CNY", 8_500)
    command = CreatePayment("r", "M1", "o", Money("CNY", 10_000), PaymentMethod.BANK_CARD, "u")
    assert dataclasses.replace(command, platform_coupon=1_500).charged == Money("CNY", 8_500)


def test_the_coupon_is_part_of_the_request_hash() -> None:
    command = CreatePayment("r", "M1", "o", Money("CNY", 10_000), PaymentMethod.BANK_CARD, "u")
    with_coupon = dataclasses.replace(command, platform_coupon=1_500)
    other_coupon = dataclasses.replace(command, platform_coupon=1_000)
    hashes = {command.request_hash(), with_coupon.request_hash(), other_coupon.request_hash()}
    assert len(hashes) == 3


def test_the_capture_debits_the_channel_what_it_charged_and_marketing_the_coupon() -> None:
    payment = _payment(10_000, 1_500, fee_bps=60, channel_fee=30)
    moved = _net(capture_postings(payment))
    assert sum(moved.values()) == 0  # balanced
    assert moved[MARKETING] == 1_500
    assert moved[RECEIVABLE] == 8_500 - 30
    assert moved[PAYABLE] == -(10_000 - 60)  # the merchant is owed the whole order less its fee
    assert moved[FEE_INCOME] == -60
    assert moved[FEE_EXPENSE] == 30


def test_a_capture_without_a_coupon_posts_as_before() -> None:
    payment = _payment(10_000, 0, fee_bps=60)
    assert capture_postings(payment) == [
        LedgerPosting(RECEIVABLE, PAYABLE, Money("CNY", 9_940)),
        LedgerPosting(RECEIVABLE, FEE_INCOME, Money("CNY", 60)),
    ]


def test_a_coupon_larger_than_the_merchants_share_also_pays_the_fee() -> None:
    payment = _payment(100, 99, fee_bps=500)  # fee 5, merchant 95, coupon 99
    moved = _net(capture_postings(payment))
    assert sum(moved.values()) == 0
    assert (moved[MARKETING], moved[RECEIVABLE], moved[PAYABLE], moved[FEE_INCOME]) == (
        99,
        1,
        -95,
        -5,
    )


def test_paired_refuses_sides_that_differ() -> None:
    with pytest.raises(ValueError):
        paired("CNY", [("a", 2)], [("b", 1)])


def test_a_refund_gives_the_payer_their_share_and_marketing_the_coupons() -> None:
    payment = _payment(10_000, 1_500, fee_bps=60)
    share = refund_coupon_share(10_000, 1_500, 0, 0, 2_500)
    assert share == 375  # 15% of the refund
    refund = _refund(2_500, share)
    assert refund.charged == Money("CNY", 2_125)
    moved = _net(refund_postings(refund, payment, 0))
    assert sum(moved.values()) == 0
    assert moved[RECEIVABLE] == -2_125
    assert moved[MARKETING] == -375
    assert moved[PAYABLE] == 2_500 - 15
    assert moved[FEE_INCOME] == 15


def _split(amount: int, coupon: int, refunds: list[int]) -> list[int]:
    shares, refunded, coupon_back = [], 0, 0
    for part in refunds:
        share = refund_coupon_share(amount, coupon, refunded, coupon_back, part)
        shares.append(share)
        refunded += part
        coupon_back += share
    return shares


def test_rounding_never_gives_the_payer_more_than_they_paid() -> None:
    # 3 fen paid of 10: each 1-fen refund gives the payer 0.3 fen, rounded down.
    shares = _split(10, 7, [1] * 10)
    payer = [1 - s for s in shares]
    assert sum(payer) == 3 and sum(shares) == 7
    assert all(sum(payer[: n + 1]) <= 3 * (n + 1) / 10 for n in range(10))


@given(
    amount=st.integers(min_value=2, max_value=10**9),
    coupon_part=st.floats(min_value=0.0, max_value=1.0),
    cuts=st.lists(st.integers(min_value=1, max_value=10**9), max_size=8),
)
def test_refunds_give_back_exactly_what_the_payer_paid_and_the_coupon(
    amount: int, coupon_part: float, cuts: list[int]
) -> None:
    coupon = min(max(int(amount * coupon_part), 1), amount - 1)
    refunds, left = [], amount
    for cut in cuts:
        part = min(cut, left)
        if part:
            refunds.append(part)
            left -= part
    refunds.append(left)
    shares = _split(amount, coupon, [r for r in refunds if r])
    assert sum(shares) == coupon
    paid_back = 0
    for refund, share in zip([r for r in refunds if r], shares, strict=True):
        assert 0 <= share <= refund
        paid_back += refund - share
        assert paid_back <= amount - coupon
    assert paid_back == amount - coupon


def test_a_failed_refund_in_between_is_made_up_by_the_next() -> None:
    # Refunds of 1 and 1 reserved; the first fails; the rest refunds the remainder in full.
    first = refund_coupon_share(10, 7, 0, 0, 1)
    second = refund_coupon_share(10, 7, 1, first, 1)
    # The first failed: what is left of the payment (9) is refunded counting the second only.
    last = refund_coupon_share(10, 7, 1, second, 9)
    assert second + last == 7
    assert (1 - second) + (9 - last) == 3


def test_refund_fee_and_coupon_together_balance_on_a_full_refund() -> None:
    payment = _payment(999, 333, fee_bps=60)
    refunded, coupon_back, moved = 0, 0, Counter[str]()
    for part in (100, 250, 649):
        share = refund_coupon_share(999, 333, refunded, coupon_back, part)
        moved.update(_net(refund_postings(_refund(part, share), payment, refunded)))
        refunded += part
        coupon_back += share
    moved.update(_net(capture_postings(payment)))
    assert {a: v for a, v in moved.items() if v} == {}
    assert fees.refunded_fee(payment.merchant_fee, 999, 0, 999) == payment.merchant_fee
