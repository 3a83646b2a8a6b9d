"""A payment flagged for reconciliation joins its trace when a reconciliation run resolves it:
a span of the payment's trace saying what the run found, linked to the run's request."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from paysuite.gateway.v1 import channel_records_pb2 as cpb
from paysuite.gateway.v1 import channel_records_pb2_grpc as cpb_grpc
from paysuite.gateway.v1 import gateway_service_pb2_grpc as gpb_grpc
from paysuite.recon.v1 import recon_service_pb2_grpc as rpb_grpc
from paysuite.runtime import span_attributes as attrs
from tests.helpers import connect, outbox_drained
from tests.integration.test_gateway_payment_traces import (
    _of_payment,
    _parent_in_trace,
    _span,
    _trace_id,
)
from tests.integration.test_recon_matching import (
    HEADER,
    SHANGHAI,
    _import,
    _pay,
    _records,
    _run,
    card_user,  # noqa: F401 - the fixture
    channel,  # noqa: F401 - the fixture
    gateway,  # noqa: F401 - the fixture
    line,
)


async def test_a_flagged_payment_joins_its_trace_when_a_run_resolves_it(
    gateway: str,  # noqa: F811 - the fixture
    recon_addr: str,
    channel: str,  # noqa: F811 - the fixture
    db: asyncpg.Connection,
    spans: InMemorySpanExporter,
    card_user: str,  # noqa: F811 - the fixture
) -> None:
    async with connect(gateway) as conn:
        stub = gpb_grpc.GatewayServiceStub(conn)
        flagged, plain = await _pay(stub, 1201, card_user), await _pay(stub, 1202, card_user)
    assert await outbox_drained(db)
    # A late answer contradicted it: handed to reconciliation.
    await db.execute(
        "UPDATE gateway.payments SET needs_reconciliation = true WHERE payment_id = $1",
        flagged.payment_id,
    )
    async with connect(gateway) as conn:
        listed = await cpb_grpc.ChannelRecordsServiceStub(conn).ListFlaggedPayments(
            cpb.ListFlaggedPaymentsRequest(channel=channel)
        )
    [record] = listed.payments
    assert record.traceparent.split("-")[1] == flagged.trace_id
    day = datetime.now(UTC).astimezone(SHANGHAI).date()
    records = {r.payment_id: r for r in await _records(gateway, channel, day)}
    assert records[plain.payment_id].traceparent == ""  # only flagged payments carry theirs
    async with connect(recon_addr) as conn:
        recon = rpb_grpc.ReconServiceStub(conn)
        bill = [HEADER, line(records[flagged.payment_id]), line(records[plain.payment_id])]
        await _import(recon, channel, day, "\n".join(bill) + "\n")
        run = await _run(recon, channel, day)
    assert run.flagged_resolved == 1

    resolved = await _span(spans, _of_payment("recon.flagged_payment", flagged.payment_id), "r")
    assert _trace_id(resolved) == flagged.trace_id
    assert _trace_id(await _parent_in_trace(spans, resolved)) == flagged.trace_id
    attributes = resolved.attributes or {}
    assert attributes[attrs.RECON_OUTCOME] == "matched"
    assert attributes[attrs.RUN_ID] == run.run_id
    assert attributes[attrs.CHANNEL] == channel
    [link] = resolved.links
    request = await _span(
        spans,
        lambda s: s.context is not None and s.context.span_id == link.context.span_id,
        "run request",
    )
    assert request.name.endswith("RunReconciliation")
    assert not [
        s
        for s in spans.get_finished_spans()
        if _of_payment("recon.flagged_payment", plain.payment_id)(s)
    ]
