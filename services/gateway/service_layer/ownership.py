"""A merchant sees its own payments and refunds only: another's answer as if they did not exist."""

from __future__ import annotations

from gateway.domain.errors import PaymentNotFound
from gateway.service_layer.refunds import RefundNotFound
from gateway.service_layer.unit_of_work import SessionFactory


async def check_payment(session: SessionFactory, payment_id: str, merchant_id: str | None) -> None:
    """Passes for callers not confined to a merchant (None) and for the payment's merchant."""
    if merchant_id is None:
        return
    async with session() as stores:
        payment = await stores.payments.get(payment_id)
    if payment is None or payment.merchant_id != merchant_id:
        raise PaymentNotFound("payment not found", metadata={"payment_id": payment_id})


async def check_refund(session: SessionFactory, refund_id: str, merchant_id: str | None) -> None:
    """Passes for callers not confined to a merchant and for the refunded payment's merchant."""
    if merchant_id is None:
        return
    async with session() as stores:
        refund = await stores.refunds.get(refund_id)
        payment = await stores.payments.get(refund.payment_id) if refund else None
    if payment is None or payment.merchant_id != merchant_id:
        raise RefundNotFound("refund not found", metadata={"refund_id": refund_id})
