"""The janitor's query of a payout the bank has not answered definitely is recorded as a span,
as its queries of payments are: the payout's id, the channel, the attempt and the state found."""

from __future__ import annotations

import asyncpg
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from paysuite.gateway.v1 import gateway_service_pb2_grpc as pb_grpc
from paysuite.gateway.v1 import payouts_pb2 as ppb
from paysuite.runtime import span_attributes as attrs
from tests.integration.payout_support import (  # noqa: F401 (calm_bank: a fixture)
    CALM,
    bank_admin,
    calm_bank,
    nudge,
    settled,
    user_with_money,
    withdrawal_request,
)
from tests.integration.test_gateway_payment_traces import _span

QUERY = "gateway.janitor.payout_query"


async def test_the_janitors_query_of_a_payout_is_a_span_with_the_payout_id(
    gateway_stub: pb_grpc.GatewayServiceAsyncStub,
    identity_addr: str,
    bank_url: str,
    db: asyncpg.Connection,
    spans: InMemorySpanExporter,
) -> None:
    user = await user_with_money(gateway_stub, identity_addr, bank_url, 5_000)
    # The bank takes the payout but answers "processing": the gateway cannot tell yet.
    await bank_admin(
        bank_url,
        "POST",
        "/_admin/faults",
        {"payout_processing_rate": 1, "payout_processing_ms": 1_000},
    )
    pending = (await gateway_stub.CreateWithdrawal(withdrawal_request(user, 1_200))).withdrawal
    assert pending.state == ppb.Payout.STATE_UNKNOWN
    await bank_admin(bank_url, "POST", "/_admin/faults", CALM)
    await nudge(db, pending.withdrawal_id)
    paid = await settled(gateway_stub, pending.withdrawal_id)
    assert paid.state == ppb.Payout.STATE_SUCCEEDED

    def resolving(span: ReadableSpan) -> bool:
        found = span.attributes or {}
        return (
            span.name == QUERY
            and found.get(attrs.PAYOUT_ID) == pending.withdrawal_id
            and found.get(attrs.PAYOUT_STATE) == "succeeded"
        )

    queried = await _span(spans, resolving, "payout query")
    attributes = queried.attributes or {}
    assert attributes[attrs.CHANNEL] == paid.channel
    attempt = attributes[attrs.QUERY_ATTEMPT]
    assert isinstance(attempt, int) and attempt >= 1
    # Every earlier query of it (the bank still "processing") was recorded too, numbered.
    ours = [
        (s.attributes or {})[attrs.QUERY_ATTEMPT]
        for s in spans.get_finished_spans()
        if s.name == QUERY and (s.attributes or {}).get(attrs.PAYOUT_ID) == pending.withdrawal_id
    ]
    assert sorted(ours) == list(range(1, attempt + 1))  # type: ignore[type-var]
