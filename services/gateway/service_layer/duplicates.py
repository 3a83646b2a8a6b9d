"""Duplicate payments: a second success on an already paid business order goes back in full.

Two payment orders of one business order can both be paid at their channels (two wallets
racing); the database lets only one succeed, the other becomes DUPLICATE and is refunded by
the gateway itself, idempotently by a request id derived from the payment.
"""

from __future__ import annotations

import logging

from gateway.domain.model import Payment
from gateway.domain.refunds import Refund, RequestRefund
from gateway.service_layer.deps import PaymentDeps
from gateway.service_layer.refunds import refund_payment

_log = logging.getLogger(__name__)

REASON = "duplicate payment"


def duplicate_refund_request(payment: Payment) -> RequestRefund:
    return RequestRefund(
        request_id=f"duplicate:{payment.payment_id}",
        payment_id=payment.payment_id,
        amount=payment.amount,
        reason=REASON,
    )


async def refund_duplicate(deps: PaymentDeps, payment: Payment) -> Refund | None:
    """Refunds the duplicate in full; a failure here is retried by the janitor's sweep."""
    try:
        refund = await refund_payment(deps, duplicate_refund_request(payment))
    except Exception:
        _log.exception(
            "duplicate payment not refunded yet", extra={"payment_id": payment.payment_id}
        )
        return None
    _log.warning(
        "duplicate payment refunded",
        extra={
            "payment_id": payment.payment_id,
            "refund_id": refund.refund_id,
            "state": refund.state.value,
        },
    )
    return refund


async def refund_forgotten_duplicates(deps: PaymentDeps, limit: int = 50) -> int:
    """Refunds duplicates whose refund was never reserved (the process stopped in between)."""
    async with deps.uow() as work:
        forgotten = await work.repo.payments.duplicates_to_refund(limit)
    for payment in forgotten:
        await refund_duplicate(deps, payment)
    return len(forgotten)
