"""OpenTelemetry metrics: one MeterProvider per process, scraped by Prometheus on the metrics port
(PAYSUITE_METRICS_PORT) and pushed by OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set.

Instruments are made from `opentelemetry.metrics.get_meter(...)` where the measurement happens;
until a process installs the provider (`setup_metrics`, done by `python -m <service>`) they
measure nothing. Names follow the OpenTelemetry semantic conventions (`rpc.server.duration`)
or `paysuite.*`; Prometheus sees them with dots as underscores and the unit appended.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIServer

import grpc
from opentelemetry import metrics
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from prometheus_client import CollectorRegistry, start_http_server

from paysuite.runtime.client_interceptors import by_kind
from paysuite.runtime.method_handlers import Behaviour, MethodWrappingInterceptor, answers_of
from paysuite.runtime.metrics_file import OtlpJsonMetricFileExporter
from paysuite.runtime.rpc_attributes import rpc_attributes
from paysuite.runtime.settings import CommonSettings

# How often metrics are appended to the file when there is no OTLP endpoint (dev), unless
# OTEL_METRIC_EXPORT_INTERVAL says otherwise; a last export is written at shutdown.
FILE_EXPORT_MS = 10_000
# Latency buckets in milliseconds: a local RPC takes a few, a bank call hundreds.
_MS_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000)


@dataclass(frozen=True)
class MetricsSettings:
    """Where the Prometheus endpoint listens: <SERVICE>_METRICS_PORT, else PAYSUITE_METRICS_PORT
    (one pod, one service); neither, no endpoint (the dev launcher's default)."""

    port: int | None = None
    host: str = "0.0.0.0"

    @classmethod
    def for_service(cls, service: str, environ: Mapping[str, str] = os.environ) -> MetricsSettings:
        port = environ.get(f"{service.upper()}_METRICS_PORT") or environ.get(
            "PAYSUITE_METRICS_PORT"
        )
        return cls(
            port=int(port) if port else None, host=environ.get("PAYSUITE_METRICS_HOST", "0.0.0.0")
        )


@dataclass(frozen=True)
class Metrics:
    """The process's meter provider, its Prometheus endpoint (if any) and how to stop both."""

    provider: MeterProvider
    http: WSGIServer | None = None

    @property
    def port(self) -> int | None:
        return None if self.http is None else self.http.server_port

    def shutdown(self) -> None:
        if self.http is not None:
            self.http.shutdown()
            self.http.server_close()
        self.provider.shutdown()


def setup_metrics(
    service_name: str, common: CommonSettings, settings: MetricsSettings | None = None
) -> Metrics:
    """Installs the global meter provider; serves /metrics when a port is set."""
    settings = settings or MetricsSettings.for_service(service_name)
    readers: list[MetricReader] = []
    http = None
    if settings.port is not None:
        registry = CollectorRegistry()
        readers.append(PrometheusMetricReader(registry=registry))
        http, _ = start_http_server(settings.port, settings.host, registry=registry)
    if common.otel_exporter_otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter

        readers.append(
            PeriodicExportingMetricReader(
                OTLPMetricExporter(endpoint=common.otel_exporter_otlp_endpoint)
            )
        )
    else:  # as traces: a JSON-lines file beside the traces file
        interval = None if os.environ.get("OTEL_METRIC_EXPORT_INTERVAL") else FILE_EXPORT_MS
        readers.append(
            PeriodicExportingMetricReader(
                OtlpJsonMetricFileExporter(metrics_file(common)), export_interval_millis=interval
            )
        )
    provider = MeterProvider(
        metric_readers=readers, resource=Resource.create({SERVICE_NAME: service_name})
    )
    metrics.set_meter_provider(provider)
    return Metrics(provider, http)


def metrics_file(common: CommonSettings) -> Path:
    """metrics.jsonl beside the traces file (PAYSUITE_TRACES_FILE)."""
    return common.traces_file.with_name("metrics.jsonl")


def rpc_status(code: grpc.StatusCode | None) -> int:
    """The numeric gRPC status code the semantic conventions record (OK when none was set)."""
    return (code or grpc.StatusCode.OK).value[0]  # type: ignore[no-any-return]


class RpcMetricsInterceptor(MethodWrappingInterceptor):
    """Records `rpc.server.duration` (ms) of every call but health checks, by service, method
    and the status code the caller got (errors mapped by the interceptors inside this one)."""

    wraps_health_probes = False

    def __init__(self, meter_provider: metrics.MeterProvider | None = None) -> None:
        super().__init__()
        meter = (meter_provider or metrics.get_meter_provider()).get_meter(__name__)
        self._duration = meter.create_histogram(
            "rpc.server.duration",
            unit="ms",
            description="Duration of inbound gRPC calls, by method and status code",
            explicit_bucket_boundaries_advisory=_MS_BUCKETS,
        )

    def _record(
        self, started: float, context: Any, attributes: dict[str, str], failed: bool
    ) -> None:
        code = context.code()
        if failed and code is None:
            code = grpc.StatusCode.UNKNOWN
        elapsed_ms = (time.perf_counter() - started) * 1000
        self._duration.record(elapsed_ms, {**attributes, "rpc.grpc.status_code": rpc_status(code)})

    def once(self, behaviour: Behaviour, method: str) -> Behaviour:
        attributes = rpc_attributes(method)

        async def measured(request: Any, context: Any) -> Any:
            started, failed = time.perf_counter(), True
            try:
                answer = await behaviour(request, context)
                failed = False
                return answer
            finally:
                self._record(started, context, attributes, failed)

        return measured

    def streaming(self, behaviour: Behaviour, method: str) -> Behaviour:
        attributes = rpc_attributes(method)

        async def measured(request: Any, context: Any) -> AsyncIterator[Any]:
            started, failed = time.perf_counter(), True
            try:
                async for answer in answers_of(behaviour, request, context):
                    yield answer
                failed = False
            finally:
                self._record(started, context, attributes, failed)

        return measured


class RpcClientMetrics:
    """Records `rpc.client.duration` (ms) of the calls this process makes that answer once
    (unary and client-streaming), by service, method and the status code they ended with."""

    def __init__(self, meter_provider: metrics.MeterProvider | None = None) -> None:
        meter = (meter_provider or metrics.get_meter_provider()).get_meter(__name__)
        self._duration = meter.create_histogram(
            "rpc.client.duration",
            unit="ms",
            description="Duration of outbound gRPC calls, by method and status code",
            explicit_bucket_boundaries_advisory=_MS_BUCKETS,
        )

    def interceptors(self) -> list[Any]:
        # One object per kind of call: a channel files an interceptor under the first kind it is,
        # so one object of both kinds measured unary calls only.
        return by_kind(unary_unary=self._around, stream_unary=self._around)

    async def _around(self, continuation: Callable[..., Any], details: Any, request: Any) -> Any:
        call = await continuation(details, request)
        started = time.perf_counter()
        code = grpc.StatusCode.OK
        try:
            await call  # the answer; the caller awaits the same, finished, call
        except grpc.aio.AioRpcError as exc:
            code = exc.code()
        except asyncio.CancelledError:
            code = grpc.StatusCode.CANCELLED
            raise
        finally:
            self._duration.record(
                (time.perf_counter() - started) * 1000,
                {**rpc_attributes(details.method), "rpc.grpc.status_code": rpc_status(code)},
            )
        return call
