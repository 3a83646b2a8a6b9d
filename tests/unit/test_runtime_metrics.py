"""rpc.server.duration from a real gRPC server: every method and status code, health excluded."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from paysuite.runtime.metrics import (
    MetricsSettings,
    RpcClientMetrics,
    RpcMetricsInterceptor,
    metrics_file,
)
from paysuite.runtime.metrics_file import OtlpJsonMetricFileExporter
from paysuite.runtime.settings import CommonSettings

SERVICE = "paysuite.test.v1.EchoService"


async def _say(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
    if request == b"bad":
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "bad request")
    if request == b"boom":
        raise RuntimeError("unexpected")
    return request


async def _repeat(
    request: bytes, context: grpc.aio.ServicerContext[Any, Any]
) -> AsyncIterator[bytes]:
    for _ in range(3):
        yield request
    if request == b"gone":
        await context.abort(grpc.StatusCode.NOT_FOUND, "gone")


async def _gather(
    requests: AsyncIterator[bytes], _context: grpc.aio.ServicerContext[Any, Any]
) -> bytes:
    return b"".join([r async for r in requests])


def _counts(registry: CollectorRegistry, side: str = "server") -> dict[tuple[str, str], float]:
    """(method, status code) -> calls recorded."""
    found = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            if sample.name == f"rpc_{side}_duration_milliseconds_count":
                labels = sample.labels
                assert labels["rpc_system"] == "grpc"
                assert labels["rpc_service"] == SERVICE
                found[labels["rpc_method"], labels["rpc_grpc_status_code"]] = sample.value
    return found


@pytest.fixture
async def server_and_registry() -> AsyncIterator[tuple[str, CollectorRegistry]]:
    registry = CollectorRegistry()
    provider = MeterProvider(metric_readers=[PrometheusMetricReader(registry=registry)])
    server = grpc.aio.server(interceptors=[RpcMetricsInterceptor(provider)])
    server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                SERVICE,
                {
                    "Say": grpc.unary_unary_rpc_method_handler(_say),
                    "Repeat": grpc.unary_stream_rpc_method_handler(_repeat),
                    "Gather": grpc.stream_unary_rpc_method_handler(_gather),
                },
            )
        ]
    )
    health_pb2_grpc.add_HealthServicer_to_server(HealthServicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield f"127.0.0.1:{port}", registry
    finally:
        await server.stop(None)
        provider.shutdown()


async def test_every_call_is_counted_by_method_and_status(
    server_and_registry: tuple[str, CollectorRegistry],
) -> None:
    address, registry = server_and_registry
    async with grpc.aio.insecure_channel(address) as channel:
        say = channel.unary_unary(f"/{SERVICE}/Say", None, None)
        repeat = channel.unary_stream(f"/{SERVICE}/Repeat", None, None)
        assert await say(b"hello") == b"hello"
        assert await say(b"again") == b"again"
        for request, code in ((b"bad", grpc.StatusCode.INVALID_ARGUMENT), (b"boom", None)):
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await say(request)
            assert code is None or raised.value.code() == code
        assert [answer async for answer in repeat(b"x")] == [b"x"] * 3
        with pytest.raises(grpc.aio.AioRpcError):
            _ = [answer async for answer in repeat(b"gone")]
        health = health_pb2_grpc.HealthStub(channel)
        await health.Check(health_pb2.HealthCheckRequest())

    assert _counts(registry) == {
        ("Say", "0"): 2,
        ("Say", "3"): 1,  # INVALID_ARGUMENT
        ("Say", "2"): 1,  # UNKNOWN: an exception nobody mapped
        ("Repeat", "0"): 1,
        ("Repeat", "5"): 1,  # NOT_FOUND after three answers
    }


def test_the_metrics_port_is_the_services_own_else_the_shared_one() -> None:
    environ = {"LEDGER_METRICS_PORT": "9101", "PAYSUITE_METRICS_PORT": "9464"}
    assert MetricsSettings.for_service("ledger", environ).port == 9101
    assert MetricsSettings.for_service("gateway", environ).port == 9464
    assert MetricsSettings.for_service("gateway", {}).port is None


def test_without_an_endpoint_metrics_go_to_a_json_lines_file(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    provider = MeterProvider(
        metric_readers=[PeriodicExportingMetricReader(OtlpJsonMetricFileExporter(path))]
    )
    counter = provider.get_meter("test").create_counter("paysuite.payments", unit="{payment}")
    counter.add(2, {"paysuite.channel": "banksim"})
    counter.add(1, {"paysuite.channel": "alipaysim"})
    provider.shutdown()  # the last export on the way out

    [line] = path.read_text().splitlines()
    request = json.loads(line)
    [resource] = request["resourceMetrics"]
    [scope] = resource["scopeMetrics"]
    [metric] = scope["metrics"]
    assert metric["name"] == "paysuite.payments"
    points = {
        p["attributes"][0]["value"]["stringValue"]: p["asInt"] for p in metric["sum"]["dataPoints"]
    }
    assert points == {"banksim": "2", "alipaysim": "1"}


def test_the_metrics_file_lies_beside_the_traces_file(tmp_path: Path) -> None:
    common = CommonSettings(traces_file=tmp_path / "traces.jsonl")
    assert metrics_file(common) == tmp_path / "metrics.jsonl"


async def test_a_clients_unary_calls_are_counted_by_method_and_status(
    server_and_registry: tuple[str, CollectorRegistry],
) -> None:
    address, _ = server_and_registry
    registry = CollectorRegistry()
    provider = MeterProvider(metric_readers=[PrometheusMetricReader(registry=registry)])
    interceptors = RpcClientMetrics(provider).interceptors()
    async with grpc.aio.insecure_channel(address, interceptors=interceptors) as channel:
        say = channel.unary_unary(f"/{SERVICE}/Say", None, None)
        assert await say(b"hello") == b"hello"
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await say(b"bad")
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        gather = channel.stream_unary(f"/{SERVICE}/Gather", None, None)
        assert await gather(iter([b"a", b"b"])) == b"ab"
    assert _counts(registry, "client") == {("Say", "0"): 1, ("Say", "3"): 1, ("Gather", "0"): 1}
    provider.shutdown()
