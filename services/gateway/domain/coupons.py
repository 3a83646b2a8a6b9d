"""A platform coupon's share of a payment's money: the ledger legs it adds and what each refund
gives back to the payer and to the platform's marketing cost."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.domain.ports import LedgerPosting
from paysuite.money import Money


def paired(
    currency: str, debits: Sequence[tuple[str, int]], credits: Sequence[tuple[str, int]]
) -> list[LedgerPosting]:
    """Debit-credit postings moving the debits' amounts to the credits', in order (each debit
    fills the credits before the next one): the legs of one balanced transfer. Zero legs are
    left out; the two sides must add up to the same total."""
    if sum(a for _, a in debits) != sum(a for _, a in credits):
        raise ValueError("the debits and credits of a transfer differ")
    postings: list[LedgerPosting] = []
    names = [account for account, amount in credits if amount > 0]
    owed = [amount for _, amount in credits if amount > 0]
    at = 0
    for debit, amount in debits:
        left = amount
        while left > 0:
            moved = min(left, owed[at])
            postings.append(LedgerPosting(debit, names[at], Money(currency, moved)))
            left -= moved
            owed[at] -= moved
            if owed[at] == 0:
                at += 1
    return postings


def refund_coupon_share(
    amount: int, coupon: int, refunded_before: int, coupon_before: int, refund: int
) -> int:
    """The part of a refund going back to the platform's coupon; the payer gets the rest.

    The payer's share of everything refunded so far follows what they paid (amount - coupon)
    pro rata, rounded down, so the payer is never given back more than they paid and a full
    refund gives back exactly that and the whole coupon. `refunded_before` and `coupon_before`
    are the payment's refunds not failed before this one and their coupon shares; a refund
    that failed in between is made up for by this one, within what is left of each side."""
    if coupon <= 0 or amount <= 0:
        return 0
    charged = amount - coupon
    payer_before = refunded_before - coupon_before
    payer = charged * (refunded_before + refund) // amount - payer_before
    coupon_left = coupon - coupon_before
    payer = min(max(payer, refund - coupon_left, 0), refund, charged - payer_before)
    return refund - payer
