"""Merchants get every event as a signed HTTP callback, in order, retried until acknowledged."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from devstack import demo, seed
from gateway.adapters.callback_http import SIGNATURE_HEADER
from gateway.adapters.store.stores import unit_of_work_factory
from gateway.domain.merchants import MerchantTerms
from gateway.service_layer.merchants import register_merchant, set_callback
from gateway.settings import GatewaySettings
from paysuite.clock import utc_now
from paysuite.gateway.v1 import gateway_service_pb2 as pb
from paysuite.gateway.v1 import gateway_service_pb2_grpc as pb_grpc
from paysuite.http_signing import verify
from paysuite.runtime.database import create_pool
from paysuite.type.v1.money_pb2 import Money
from tests.helpers import connect

SECRET = "merchant-callback-secret"


@dataclass
class Receiver:
    """A merchant's endpoint that refuses the first `refuse` deliveries."""

    refuse: int
    received: list[dict[str, object]] = field(default_factory=list)
    refused: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        verify(SECRET.encode(), body, request.headers[SIGNATURE_HEADER], now=int(time.time()))
        if self.refused < self.refuse:
            self.refused += 1
            return web.Response(status=500)
        self.received.append(json.loads(body))
        return web.Response(status=204)


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    merchant_end = Receiver(refuse=1)
    app = web.Application()
    app.router.add_post("/paysuite/events", merchant_end.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield merchant_end, f"http://127.0.0.1:{port}/paysuite/events"
    finally:
        await runner.cleanup()


async def test_callbacks_are_signed_ordered_and_retried(
    gateway_addr: str, ledger_addr: str, receiver: tuple[Receiver, str]
) -> None:
    merchant_end, url = receiver
    merchant = f"M{secrets.randbelow(10**6):06d}"
    pool = await create_pool(GatewaySettings().dsn, schema="gateway", service="test", size=1)
    try:
        units = unit_of_work_factory(pool)
        await register_merchant(units, merchant, MerchantTerms("Callback Merchant"), utc_now)
        await set_callback(units, merchant, url, SECRET, utc_now)
    finally:
        await pool.close()
    await seed.seed_ledger(ledger_addr, merchant_id=merchant)
    gateway = pb_grpc.GatewayServiceStub(connect(gateway_addr))
    paid = []
    for amount in (101, 102):
        payment = (
            await gateway.CreatePayment(
                pb.CreatePaymentRequest(
                    request_id=f"cb-{secrets.token_hex(6)}",
                    merchant_id=merchant,
                    merchant_order_no=f"CB-{secrets.token_hex(4)}",
                    amount=Money(currency_code="CNY", minor_units=amount),
                    method=pb.PAYMENT_METHOD_BANK_CARD,
                    payer_user_id=demo.USER_ID,
                )
            )
        ).payment
        paid.append(payment.payment_id)
    for _ in range(100):
        if len(merchant_end.received) >= 2:
            break
        await asyncio.sleep(0.1)
    assert merchant_end.refused == 1
    got = [(e["type"], e["payment"]["payment_id"]) for e in merchant_end.received]  # type: ignore[index]
    assert got == [("payment.succeeded", paid[0]), ("payment.succeeded", paid[1])]
    sequences = [int(str(e["sequence"])) for e in merchant_end.received]
    assert sequences == sorted(sequences)
    assert "payer_user_id" not in json.dumps(merchant_end.received)
