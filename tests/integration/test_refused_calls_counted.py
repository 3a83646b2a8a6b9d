"""Every call the authorization policy refuses is counted in paysuite.rpc.refused, by service,
method and reason, on a real server's interceptors."""

from __future__ import annotations

import grpc
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, NumberDataPoint

from devstack.pki import DevCA
from ledger.bootstrap import build_app as build_ledger
from ledger.settings import LedgerSettings
from paysuite.ledger.v1 import ledger_service_pb2 as lpb
from paysuite.ledger.v1 import ledger_service_pb2_grpc as lpb_grpc
from paysuite.runtime.entrypoint import server_security
from paysuite.runtime.identities import merchant, operator
from paysuite.runtime.server import start_server


def _refused(reader: InMemoryMetricReader) -> dict[tuple[str, str, str], int]:
    counts: dict[tuple[str, str, str], int] = {}
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name != "paysuite.rpc.refused":
                    continue
                for point in metric.data.data_points:
                    assert isinstance(point, NumberDataPoint)
                    a = point.attributes or {}
                    key = (str(a["rpc.service"]), str(a["rpc.method"]), str(a["reason"]))
                    counts[key] = int(point.value)
    return counts


async def test_refused_calls_are_counted_by_method_and_reason(
    suite_db: str, test_ca: DevCA
) -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    settings = LedgerSettings()
    app = await build_ledger(settings)
    running = await start_server(
        app,
        host="127.0.0.1",
        port=0,
        security=server_security(app, settings),
        meter_provider=provider,
    )
    address = f"127.0.0.1:{running.port}"
    try:
        async with test_ca.channel(address, merchant("M100001")) as channel:
            ledger = lpb_grpc.LedgerServiceStub(channel)
            for _ in range(2):
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    await ledger.RunDayCut(lpb.RunDayCutRequest(request_id="refused-cut"))
                assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
        async with test_ca.channel(address, operator()) as channel:
            await lpb_grpc.LedgerServiceStub(channel).GetBusinessDate(lpb.GetBusinessDateRequest())
    finally:
        await running.stop(0)
    assert _refused(reader) == {("paysuite.ledger.v1.LedgerService", "RunDayCut", "not_allowed"): 2}
