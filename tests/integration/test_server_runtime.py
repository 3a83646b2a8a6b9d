"""The shared server runtime: health, reflection, safe INTERNAL, graceful stop."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from devstack.pki import DevCA
from ledger.bootstrap import build_app as build_ledger
from ledger.settings import LedgerSettings
from paysuite.ledger.v1 import ledger_service_pb2 as lpb
from paysuite.ledger.v1 import ledger_service_pb2_grpc as lpb_grpc
from paysuite.runtime.authz import Policy
from paysuite.runtime.grpc_errors import error_reason
from paysuite.runtime.identities import service
from paysuite.runtime.server import Security, ServiceApp, start_server
from paysuite.type.v1.error_reason_pb2 import ErrorReason
from tests.helpers import connect, start_in_process


def finished(exporter: InMemorySpanExporter) -> tuple[ReadableSpan, ...]:
    provider = trace.get_tracer_provider()
    if isinstance(provider, SdkTracerProvider):
        provider.force_flush()
    return exporter.get_finished_spans()


async def _reflected_services(address: str) -> set[str]:
    async with connect(address) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        call = stub.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")])
        )
        async for response in call:
            return {s.name for s in response.list_services_response.service}
    return set()


async def test_health_reflection_and_graceful_stop(
    suite_db: str, spans: InMemorySpanExporter
) -> None:
    settings = LedgerSettings()
    running = await start_in_process(await build_ledger(settings), settings)
    address = f"127.0.0.1:{running.port}"
    async with connect(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        spans.clear()
        for name in ("", "paysuite.ledger.v1.LedgerService"):
            answer = await health.Check(health_pb2.HealthCheckRequest(service=name))
            assert answer.status == health_pb2.HealthCheckResponse.SERVING
        ledger = lpb_grpc.LedgerServiceStub(channel)
        await ledger.GetBusinessDate(lpb.GetBusinessDateRequest())
        # Probes leave no spans; the service's own calls do.
        names = {span.name for span in finished(spans)}
        assert "/paysuite.ledger.v1.LedgerService/GetBusinessDate" in names
        assert not [n for n in names if "Health" in n]
        assert await _reflected_services(address) >= {
            "paysuite.ledger.v1.LedgerService",
            "grpc.health.v1.Health",
            "grpc.reflection.v1alpha.ServerReflection",
        }
        watch = health.Watch(health_pb2.HealthCheckRequest(service=""))
        assert (await watch.read()).status == health_pb2.HealthCheckResponse.SERVING
        await running.stop(1)
        assert (await watch.read()).status == health_pb2.HealthCheckResponse.NOT_SERVING


class _Exploding:
    """A handler that fails the way a bug would, with internals in the message."""

    @staticmethod
    async def boom(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
        raise RuntimeError("SELECT secret FROM identity.users WHERE id_number='110105...'")


async def test_unexpected_error_becomes_safe_internal(test_ca: DevCA) -> None:
    def register(server: grpc.aio.Server) -> None:
        handler = grpc.unary_unary_rpc_method_handler(_Exploding.boom)
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler("test.v1.Boom", {"Boom": handler}),)
        )

    app = ServiceApp(name="test", services=[], register=register)
    security = Security(
        tls=test_ca.files(service("ledger")),
        policy=Policy({"/test.v1.Boom/Boom": ("operator/*",)}),
    )
    running = await start_server(app, host="127.0.0.1", port=0, security=security)
    try:
        async with connect(f"127.0.0.1:{running.port}") as channel:
            call = channel.unary_unary("/test.v1.Boom/Boom", None, None)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await call(b"")
    finally:
        await running.stop(0)
    assert caught.value.code() is grpc.StatusCode.INTERNAL
    assert caught.value.details() == "internal error"
    assert error_reason(caught.value) == ErrorReason.ERROR_REASON_INTERNAL
    assert "SELECT" not in str(caught.value.trailing_metadata())
