"""OpenTelemetry tracing: one provider per process, exporting by OTLP or to a JSONL file."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from opentelemetry import propagate, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from paysuite.runtime.otlp_json_file import OtlpJsonFileExporter
from paysuite.runtime.settings import CommonSettings


@dataclass(frozen=True)
class Telemetry:
    """The process's tracer provider and how to flush it on shutdown."""

    provider: TracerProvider

    def tracer(self, name: str) -> trace.Tracer:
        return self.provider.get_tracer(name)

    def shutdown(self) -> None:
        self.provider.force_flush()
        self.provider.shutdown()


def _exporter(settings: CommonSettings) -> SpanExporter:
    if settings.otel_exporter_otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(endpoint=settings.otel_exporter_otlp_endpoint)
    return OtlpJsonFileExporter(settings.traces_file)


def tracer_provider(service_name: str) -> TracerProvider:
    """The provider of a service: its name on every span, and the sampler the standard variables
    set (OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG; unset: parent-based, every span kept,
    as in dev). In production e.g. parentbased_traceidratio with 0.01 keeps one trace in a
    hundred, whole: a service samples as the caller's trace context says."""
    return TracerProvider(resource=Resource.create({SERVICE_NAME: service_name}))


def setup_telemetry(
    service_name: str,
    settings: CommonSettings,
    exporter_factory: Callable[[CommonSettings], SpanExporter] = _exporter,
) -> Telemetry:
    """Installs the global tracer provider for this process (OTEL_RESOURCE_ATTRIBUTES honoured)."""
    provider = tracer_provider(service_name)
    provider.add_span_processor(BatchSpanProcessor(exporter_factory(settings)))
    trace.set_tracer_provider(provider)
    if settings.db_spans:
        database_spans(provider)
    propagate.set_global_textmap(
        CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()])
    )
    return Telemetry(provider)


def database_spans(provider: trace.TracerProvider) -> BaseInstrumentor:
    """Turns on a span per asyncpg query for the process (PAYSUITE_DB_SPANS): the statement
    with its placeholders, never the values bound to them."""
    instrumentor = AsyncPGInstrumentor()  # type: ignore[no-untyped-call]
    instrumentor.instrument(tracer_provider=provider)
    return instrumentor


def current_trace_id() -> str:
    """The W3C trace id of the current span as 32 hex digits, or "" when not tracing."""
    context = trace.get_current_span().get_span_context()
    return trace.format_trace_id(context.trace_id) if context.is_valid else ""
