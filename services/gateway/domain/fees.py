"""What the platform keeps of a payment (the merchant's fee) and of each refund of it."""

from __future__ import annotations

BPS_PER_UNIT = 10_000


def merchant_fee(amount: int, fee_bps: int) -> int:
    """The fee in minor units at fee_bps basis points, rounded half-up to the minor unit."""
    return (amount * fee_bps + BPS_PER_UNIT // 2) // BPS_PER_UNIT


def refunded_fee(fee: int, amount: int, refunded_before: int, refund: int) -> int:
    """The part of the fee a refund gives back: the fee of everything refunded so far less
    what earlier refunds gave back, so the parts of a full refund add up to the whole fee."""
    if amount <= 0:
        return 0
    return fee * (refunded_before + refund) // amount - fee * refunded_before // amount
