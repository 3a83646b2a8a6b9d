"""The asynchronous parts of a payment join its trace: the janitor's query of a payment the
wallet never told us about, and the outbox's deliveries of what that query settled."""

from __future__ import annotations

from collections.abc import Callable

import asyncpg
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from paysuite.gateway.v1 import gateway_service_pb2 as pb
from paysuite.gateway.v1 import gateway_service_pb2_grpc as pb_grpc
from paysuite.runtime import span_attributes as attrs
from tests.integration.test_gateway_payment_traces import (
    _of_payment,
    _parent_in_trace,
    _span,
    _trace_id,
)
from tests.integration.test_gateway_wallets import (
    _nudge_janitor,
    create,
    gateway,  # noqa: F401 - the fixture
    settled,
    trade_decided,
)
from tests.integration.wallet_client import WalletClient


def _under(span: ReadableSpan, parent: ReadableSpan) -> bool:
    """The span continues the parent (its child) or, batched with others, links to it."""
    assert parent.context is not None
    ids = {link.context.span_id for link in span.links}
    if span.parent is not None:
        ids.add(span.parent.span_id)
    return parent.context.span_id in ids


def _delivery_under(name: str, parent: ReadableSpan) -> Callable[[ReadableSpan], bool]:
    return lambda s: s.name == name and _under(s, parent)


async def test_the_janitors_query_and_its_outbox_deliveries_join_the_payments_trace(
    gateway: pb_grpc.GatewayServiceAsyncStub,  # noqa: F811 - the fixture
    alipay: WalletClient,
    payer: str,
    db: asyncpg.Connection,
    spans: InMemorySpanExporter,
) -> None:
    await alipay.set_faults(accepted_rate=1, decide_ms=50, notify_drop_rate=1)
    try:
        payment = await create(gateway, pb.PAYMENT_METHOD_ALIPAY, 779, payer)
        assert payment.state == pb.Payment.STATE_UNKNOWN
        assert (await trade_decided(alipay, payment.payment_id))["status"] == "success"
        [delivery] = await alipay.settled_notifications(payment.payment_id, 1)
        assert delivery["dropped"]
        await _nudge_janitor(db, payment.payment_id)
        assert (await settled(gateway, payment.payment_id)).state == pb.Payment.STATE_SUCCEEDED
    finally:
        await alipay.reset_faults()

    queried = await _span(spans, _of_payment("gateway.janitor.query", payment.payment_id), "q")
    assert _trace_id(queried) == payment.trace_id
    assert _trace_id(await _parent_in_trace(spans, queried)) == payment.trace_id
    attributes = queried.attributes or {}
    assert attributes[attrs.CHANNEL] == "alipaysim"
    assert attributes[attrs.PAYMENT_STATE] == "succeeded"
    assert attributes[attrs.QUERY_ATTEMPT] == 1
    # The capture's posting and the limit's commit the query wrote go out under its span.
    for name in ("gateway.outbox.ledger_transfers", "gateway.outbox.limit_settlements"):
        sent = await _span(spans, _delivery_under(name, queried), name)
        assert (sent.attributes or {})[attrs.OUTBOX_MESSAGES] != 0
