"""Open reconciliation items by channel and age: a run's short payment counted in the newest
bucket of the recon.open_items gauge, and in an older one as time passes; read from recon's
tables on a real Postgres."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from paysuite.gateway.v1 import gateway_service_pb2_grpc as gpb_grpc
from paysuite.recon.v1 import recon_service_pb2_grpc as rpb_grpc
from paysuite.runtime import span_attributes as attrs
from paysuite.runtime.database import SqlUnitOfWork, create_engine
from recon.adapters.repository import ReconRepository
from recon.service_layer.measurements import OpenItemsGauge
from recon.service_layer.open_items import age_bucket, sample_open_items
from recon.settings import ReconSettings
from tests.helpers import connect, outbox_drained
from tests.integration.metric_readers import gauge_by
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


def _open_items(reader: InMemoryMetricReader, of_channel: str) -> dict[str, int]:
    """The gauge's last values for the channel, by age bucket."""
    found = gauge_by(reader, "paysuite.recon.open_items", attrs.ITEM_AGE)
    return {age: count for (age, rest), count in found.items() if rest == of_channel}


def test_ages_fall_into_buckets() -> None:
    assert [age_bucket(d) for d in (0, 1, 2, 3, 6, 7, 29, 30, 400)] == [
        "0d",
        "1d-3d",
        "1d-3d",
        "3d-7d",
        "3d-7d",
        "7d-30d",
        "7d-30d",
        "30d+",
        "30d+",
    ]


async def test_open_items_are_counted_by_channel_and_age(
    gateway: str,  # noqa: F811 - the fixture
    recon_addr: str,
    channel: str,  # noqa: F811 - the fixture
    db: asyncpg.Connection,
    card_user: str,  # noqa: F811 - the fixture
) -> None:
    async with connect(gateway) as conn:
        stub = gpb_grpc.GatewayServiceStub(conn)
        listed = await _pay(stub, 1301, card_user)
        await _pay(stub, 1302, card_user)  # left off the bill
    assert await outbox_drained(db)
    day = datetime.now(UTC).astimezone(SHANGHAI).date()
    records = {r.payment_id: r for r in await _records(gateway, channel, day)}
    async with connect(recon_addr) as conn:
        recon = rpb_grpc.ReconServiceStub(conn)
        # The bill leaves one payment out: short, an open item.
        await _import(recon, channel, day, f"{HEADER}\n{line(records[listed.payment_id])}\n")
        await _run(recon, channel, day)

    reader = InMemoryMetricReader()
    gauge = OpenItemsGauge(MeterProvider(metric_readers=[reader]).get_meter("test"))
    engine = create_engine(ReconSettings().dsn, schema="recon", service="test", pool_size=1)
    units = lambda: SqlUnitOfWork(engine, ReconRepository)  # noqa: E731
    now = datetime.now(UTC)
    try:
        await sample_open_items(units, lambda: now, gauge)
        assert _open_items(reader, channel) == {
            "0d": 1,
            "1d-3d": 0,
            "3d-7d": 0,
            "7d-30d": 0,
            "30d+": 0,
        }
        await sample_open_items(units, lambda: now + timedelta(days=4), gauge)
        assert _open_items(reader, channel)["3d-7d"] == 1
        assert _open_items(reader, channel)["0d"] == 0
    finally:
        await engine.dispose()
