"""Merchant fees: half-up on capture; refunds give the fee back in parts that add up to it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gateway.domain.fees import merchant_fee, refunded_fee


def test_the_fee_rounds_half_up_to_the_fen() -> None:
    assert merchant_fee(10_000, 60) == 60
    assert merchant_fee(100, 60) == 1  # 0.6 fen
    assert merchant_fee(100, 40) == 0  # 0.4 fen
    assert merchant_fee(0, 60) == 0


@given(
    amount=st.integers(min_value=1, max_value=10**9),
    fee_bps=st.integers(min_value=0, max_value=10_000),
    cuts=st.lists(st.integers(min_value=1, max_value=10**9), max_size=8),
)
def test_refunds_give_back_the_whole_fee_in_parts(
    amount: int, fee_bps: int, cuts: list[int]
) -> None:
    fee = merchant_fee(amount, fee_bps)
    refunds, left = [], amount
    for cut in cuts:
        part = min(cut, left)
        if part:
            refunds.append(part)
            left -= part
    refunds.append(left)  # the rest, so it is refunded in full
    given_back, refunded = [], 0
    for refund in refunds:
        given_back.append(refunded_fee(fee, amount, refunded, refund))
        refunded += refund
    assert sum(given_back) == fee
    assert all(0 <= part <= refund for part, refund in zip(given_back, refunds, strict=True))
