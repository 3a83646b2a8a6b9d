"""The janitor's backlog gauge counts the payments whose status query is due, from the
gateway's tables on a real Postgres."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from gateway.adapters.store.stores import unit_of_work_factory
from gateway.service_layer.measurements import DueQueriesGauge
from gateway.service_layer.status import sample_backlog
from gateway.settings import GatewaySettings
from paysuite.clock import utc_now
from paysuite.gateway.v1 import gateway_service_pb2_grpc as pb_grpc
from paysuite.runtime import span_attributes as attrs
from paysuite.runtime.database import create_pool
from tests.e2e.own_suite import card_payment
from tests.helpers import connect
from tests.integration.metric_readers import gauge_by


@pytest.fixture
async def gateway(gateway_addr: str) -> AsyncIterator[pb_grpc.GatewayServiceAsyncStub]:
    async with connect(gateway_addr) as channel:
        yield pb_grpc.GatewayServiceStub(channel)


def _backlog(reader: InMemoryMetricReader) -> dict[str, int]:
    """The gauge's last values, by what is due (payment, payout)."""
    found = gauge_by(reader, "paysuite.janitor.backlog", attrs.QUERY_TARGET)
    return {target: count for (target, _), count in found.items()}


async def test_the_backlog_counts_payments_whose_query_is_due(
    gateway: pb_grpc.GatewayServiceAsyncStub, db: asyncpg.Connection
) -> None:
    payment = (await gateway.CreatePayment(card_payment("jb", 313))).payment
    reader = InMemoryMetricReader()
    gauge = DueQueriesGauge(0, MeterProvider(metric_readers=[reader]).get_meter("test"))
    pool = await create_pool(GatewaySettings().dsn, schema="gateway", service="test", size=1)
    units = unit_of_work_factory(pool)
    # Left unanswered on a channel no janitor here asks (so none resolves it meanwhile).
    unanswered = (
        "UPDATE gateway.payments SET state = $2, channel = $3, next_query_at = $4 "
        "WHERE payment_id = $1"
    )
    try:
        await sample_backlog(units, utc_now, gauge)
        before = _backlog(reader)
        assert set(before) == {"payment", "payout"}
        await db.execute(unanswered, payment.payment_id, "unknown", "nowhere", utc_now())
        try:
            await sample_backlog(units, utc_now, gauge)
            assert _backlog(reader) == {**before, "payment": before["payment"] + 1}
        finally:
            await db.execute(unanswered, payment.payment_id, "succeeded", payment.channel, None)
        await sample_backlog(units, utc_now, gauge)
        assert _backlog(reader) == before
    finally:
        await pool.close()
