"""What happens to a payment after its answer joins the payment's trace: the wallet's
notification and the merchant's callbacks, each linked to the span that brought it in."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Callable

import pytest
from aiohttp import web
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, format_trace_id

from devstack import demo, seed
from gateway.adapters.store.stores import unit_of_work_factory
from gateway.domain.merchants import MerchantTerms
from gateway.service_layer.merchants import register_merchant, set_callback
from gateway.settings import GatewaySettings
from paysuite.clock import utc_now
from paysuite.gateway.v1 import gateway_service_pb2 as pb
from paysuite.gateway.v1 import gateway_service_pb2_grpc as pb_grpc
from paysuite.runtime.database import create_pool
from paysuite.type.v1.money_pb2 import Money
from tests.helpers import connect
from tests.integration.wallet_client import WalletClient


@pytest.fixture
async def gateway(gateway_addr: str) -> AsyncIterator[pb_grpc.GatewayServiceAsyncStub]:
    async with connect(gateway_addr) as channel:
        yield pb_grpc.GatewayServiceStub(channel)


async def _span(
    spans: InMemorySpanExporter, found: Callable[[ReadableSpan], bool], what: str
) -> ReadableSpan:
    """The first exported span found() accepts, waiting for the exporter's batches."""
    async with asyncio.timeout(10):
        while True:
            matches = [s for s in spans.get_finished_spans() if found(s)]
            if matches:
                return matches[0]
            await asyncio.sleep(0.1)
    raise AssertionError(f"no {what} span")  # pragma: no cover - timeout raises first


def _of_payment(name: str, payment_id: str) -> Callable[[ReadableSpan], bool]:
    return lambda s: (
        s.name == name and (s.attributes or {}).get("paysuite.payment.id") == payment_id
    )


def _trace_id(span: ReadableSpan) -> str:
    assert span.context is not None
    return format_trace_id(span.context.trace_id)


async def _parent_in_trace(spans: InMemorySpanExporter, span: ReadableSpan) -> ReadableSpan:
    """The span's parent: a span of the gateway the payment's creation recorded."""
    assert span.parent is not None
    return await _span(
        spans,
        lambda s: s.context is not None and s.context.span_id == span.parent.span_id,  # type: ignore[union-attr]
        "parent",
    )


async def test_a_wallet_notification_joins_the_payments_trace(
    gateway: pb_grpc.GatewayServiceAsyncStub,
    alipay: WalletClient,
    payer: str,
    spans: InMemorySpanExporter,
) -> None:
    await alipay.set_faults(accepted_rate=1, decide_ms=150)
    try:
        payment = (
            await gateway.CreatePayment(
                pb.CreatePaymentRequest(
                    request_id=f"tr-{secrets.token_hex(8)}",
                    merchant_id=demo.MERCHANT_ID,
                    merchant_order_no=f"TR-{secrets.token_hex(6)}",
                    amount=Money(currency_code="CNY", minor_units=777),
                    method=pb.PAYMENT_METHOD_ALIPAY,
                    payer_user_id=payer,
                )
            )
        ).payment
        assert payment.state == pb.Payment.STATE_UNKNOWN  # the buyer is still confirming
        await alipay.settled_notifications(payment.payment_id, 1)
    finally:
        await alipay.reset_faults()

    applied = await _span(spans, _of_payment("gateway.notification", payment.payment_id), "notice")
    assert _trace_id(applied) == payment.trace_id
    creation = await _parent_in_trace(spans, applied)
    assert _trace_id(creation) == payment.trace_id
    # Linked to the listener's span, in the trace the wallet's request started.
    [link] = applied.links
    listener = await _span(
        spans,
        lambda s: s.context is not None and s.context.span_id == link.context.span_id,
        "listener",
    )
    assert listener.name == "POST /notify/{channel}"
    assert listener.kind == SpanKind.SERVER
    assert (listener.attributes or {})["paysuite.notification.result"] == "applied"


async def test_merchant_callbacks_join_the_payments_trace(
    gateway: pb_grpc.GatewayServiceAsyncStub,
    ledger_addr: str,
    spans: InMemorySpanExporter,
) -> None:
    received: list[bytes] = []

    async def merchant_end(request: web.Request) -> web.Response:
        received.append(await request.read())
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/events", merchant_end)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    merchant = f"M{secrets.randbelow(10**6):06d}"
    pool = await create_pool(GatewaySettings().dsn, schema="gateway", service="test", size=1)
    try:
        units = unit_of_work_factory(pool)
        await register_merchant(units, merchant, MerchantTerms("Traced Merchant"), utc_now)
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/events"
        await set_callback(units, merchant, url, "traced-callback-secret", utc_now)
        await seed.seed_ledger(ledger_addr, merchant_id=merchant)
        payment = (
            await gateway.CreatePayment(
                pb.CreatePaymentRequest(
                    request_id=f"trcb-{secrets.token_hex(6)}",
                    merchant_id=merchant,
                    merchant_order_no=f"TRCB-{secrets.token_hex(4)}",
                    amount=Money(currency_code="CNY", minor_units=505),
                    method=pb.PAYMENT_METHOD_BANK_CARD,
                    payer_user_id=demo.USER_ID,
                )
            )
        ).payment
        assert payment.state == pb.Payment.STATE_SUCCEEDED
        deadline = time.monotonic() + 10
        while not received and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
    finally:
        await pool.close()
        await runner.cleanup()
    assert received

    sent = await _span(spans, _of_payment("gateway.merchant_callback", payment.payment_id), "cb")
    assert _trace_id(sent) == payment.trace_id
    assert (sent.attributes or {})["paysuite.merchant.id"] == merchant
    creation = await _parent_in_trace(spans, sent)
    assert _trace_id(creation) == payment.trace_id
    # The HTTP request itself is a client span under it, carrying the trace to the merchant.
    assert sent.context is not None
    post = await _span(
        spans,
        lambda s: s.parent is not None and s.parent.span_id == sent.context.span_id,
        "HTTP POST",
    )
    assert post.kind == SpanKind.CLIENT
