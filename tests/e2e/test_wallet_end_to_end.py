"""An Alipay payment through real processes: accepted, then settled by the wallet's notification."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import aiohttp
import asyncpg

from devstack import demo
from devstack.stack import Stack
from paysuite.gateway.v1 import gateway_service_pb2 as gpb
from paysuite.gateway.v1 import gateway_service_pb2_grpc as gpb_grpc
from paysuite.runtime.dsn import plain_postgres_url
from paysuite.type.v1.money_pb2 import Money
from tests.helpers import connect


async def _admin(stack: Stack, method: str, path: str, payload: Any = None) -> Any:
    url = stack.config.simulator_url("alipaysim") + path
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, url, json=payload) as response,
    ):
        assert response.status == 200
        return await response.json()


async def test_an_alipay_payment_is_settled_by_notification(stack: Stack) -> None:
    await _admin(stack, "POST", "/_admin/faults", {"accepted_rate": 1, "decide_ms": 200})
    try:
        request = gpb.CreatePaymentRequest(
            request_id=f"e2e-ali-{secrets.token_hex(8)}",
            merchant_id=demo.MERCHANT_ID,
            merchant_order_no=f"E2E-ALI-{secrets.token_hex(6)}",
            amount=Money(currency_code="CNY", minor_units=4321),
            method=gpb.PAYMENT_METHOD_ALIPAY,
            payer_user_id=demo.USER_ID,
        )
        async with connect(stack.config.addr("gateway")) as channel:
            gateway = gpb_grpc.GatewayServiceStub(channel)
            payment = (await gateway.CreatePayment(request)).payment
            assert (payment.state, payment.channel) == (gpb.Payment.STATE_UNKNOWN, "alipaysim")
            async with asyncio.timeout(10):
                while payment.state == gpb.Payment.STATE_UNKNOWN:
                    await asyncio.sleep(0.1)
                    answer = await gateway.GetPayment(
                        gpb.GetPaymentRequest(payment_id=payment.payment_id)
                    )
                    payment = answer.payment
    finally:
        await _admin(stack, "POST", "/_admin/faults", {"accepted_rate": 0})
    assert payment.state == gpb.Payment.STATE_SUCCEEDED
    # The gateway commits before its answer reaches the wallet: wait for the acknowledgement.
    async with asyncio.timeout(10):
        while True:
            sent = await _admin(stack, "GET", "/_admin/notifications")
            [delivery] = [n for n in sent if n["out_trade_no"] == payment.payment_id]
            if delivery["acknowledged"] or delivery["gave_up"]:
                break
            await asyncio.sleep(0.05)
    assert delivery["acknowledged"] and delivery["status"] == "TRADE_SUCCESS"

    conn = await asyncpg.connect(plain_postgres_url(stack.config.database_url))
    try:
        async with asyncio.timeout(10):
            while not (
                transfers := await conn.fetch(
                    "SELECT transfer_id FROM ledger.transfers "
                    "WHERE metadata->>'payment_id' = $1 AND result = 'posted'",
                    payment.payment_id,
                )
            ):
                await asyncio.sleep(0.1)
        await asyncio.sleep(0.2)  # nothing more arrives
        transfers = await conn.fetch(
            "SELECT transfer_id FROM ledger.transfers WHERE metadata->>'payment_id' = $1",
            payment.payment_id,
        )
        applied = await conn.fetchval(
            "SELECT count(*) FROM gateway.channel_notifications WHERE payment_id = $1",
            payment.payment_id,
        )
    finally:
        await conn.close()
    assert [t["transfer_id"] for t in transfers] == [f"{payment.payment_id}:capture"]
    assert applied == 1
    gateway_log = (stack.config.data_dir / "logs" / "gateway.log").read_text()
    assert "notification applied" in gateway_log
