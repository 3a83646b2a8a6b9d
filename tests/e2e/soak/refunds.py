"""The refunds the soak asks for while the storm goes on, and one too many that must be refused."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable

import grpc
import pytest

from paysuite.gateway.v1 import gateway_service_pb2 as gpb
from paysuite.type.v1.money_pb2 import Money
from tests.e2e.soak.merchant import CALL_TIMEOUT, Merchant


async def ask_refunds(merchant: Merchant, paid: list[gpb.Payment]) -> None:
    """Full, partial, two partials at once, the same full refund sent twice at once (a client
    retrying before the first answer: both must get the one refund), one too many."""
    jobs: list[Awaitable[gpb.Refund | None]] = []
    for i, payment in enumerate(paid[:8]):
        amount = payment.amount.minor_units
        match i % 4:
            case 0:
                jobs.append(merchant.refund(payment, amount))
            case 1:
                jobs.append(merchant.refund(payment, 100))
            case 2:
                jobs.append(merchant.refund(payment, amount // 2))
                jobs.append(merchant.refund(payment, amount - amount // 2))
            case _:
                request_id = f"soak-rfd-sent-twice-at-once-{secrets.token_hex(6)}"
                jobs.append(merchant.refund(payment, amount, request_id))
                jobs.append(merchant.refund(payment, amount, request_id))
    await asyncio.gather(*jobs)
    if paid:
        # More than was paid: refused, and nothing recorded.
        over = gpb.RefundPaymentRequest(
            request_id=f"soak-rfd-over-{secrets.token_hex(6)}",
            payment_id=paid[-1].payment_id,
            amount=Money(currency_code="CNY", minor_units=paid[-1].amount.minor_units + 1),
            reason="soak test",
        )
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await merchant.gateway.RefundPayment(over, timeout=CALL_TIMEOUT)
        assert refused.value.code() is grpc.StatusCode.FAILED_PRECONDITION
