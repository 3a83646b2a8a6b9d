"""A merchant creating payments faster than its limit is refused with RESOURCE_EXHAUSTED,
RetryInfo and PAYMENT_RATE_LIMITED, and nothing is written."""

from __future__ import annotations

import secrets

import asyncpg
import grpc
import pytest
from google.rpc import error_details_pb2

from devstack import demo
from paysuite.gateway.v1 import gateway_service_pb2 as pb
from paysuite.gateway.v1 import gateway_service_pb2_grpc as pb_grpc
from paysuite.runtime.grpc_errors import error_reason, rich_status
from paysuite.type.v1.error_reason_pb2 import ErrorReason
from paysuite.type.v1.money_pb2 import Money
from tests.helpers import connect
from tests.integration.conftest import Replica


def _payment(payer: str) -> pb.CreatePaymentRequest:
    return pb.CreatePaymentRequest(
        request_id=f"rl-{secrets.token_hex(8)}",
        merchant_id=demo.MERCHANT_ID,
        merchant_order_no=f"RL-{secrets.token_hex(6)}",
        amount=Money(currency_code="CNY", minor_units=200),
        method=pb.PAYMENT_METHOD_ALIPAY,
        payer_user_id=payer,
    )


def _retry_delay(error: grpc.aio.AioRpcError) -> float:
    status = rich_status(error)
    assert status is not None
    for detail in status.details:
        if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info = error_details_pb2.RetryInfo()
            detail.Unpack(info)
            return float(info.retry_delay.ToNanoseconds()) / 1e9
    raise AssertionError("no RetryInfo")


async def test_payments_over_the_merchants_rate_are_refused_with_retry_info(
    replica: Replica, payer: str, db: asyncpg.Connection
) -> None:
    # One payment per hour: the second at once is over the limit.
    async with (
        replica(payment_rate_per_merchant=1 / 3600, payment_burst_per_merchant=1) as addr,
        connect(addr) as channel,
    ):
        gateway = pb_grpc.GatewayServiceStub(channel)
        await gateway.CreatePayment(_payment(payer))
        payments_before = await db.fetchval("SELECT count(*) FROM gateway.payments")
        refused = _payment(payer)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await gateway.CreatePayment(refused)
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert error_reason(caught.value) == ErrorReason.ERROR_REASON_PAYMENT_RATE_LIMITED
    assert 0 < _retry_delay(caught.value) <= 3600
    assert await db.fetchval("SELECT count(*) FROM gateway.payments") == payments_before
    written = await db.fetchval(
        "SELECT count(*) FROM gateway.payments WHERE request_id = $1", refused.request_id
    )
    assert written == 0
