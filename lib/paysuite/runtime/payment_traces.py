"""Work done for a payment after its answer (a wallet's notification, a merchant callback, the
janitor's query, reconciliation of a flagged payment) joins the payment's trace: a span whose
parent is the traceparent the payment was created under, linked to the span that brought the
work in (OpenTelemetry's pattern for asynchronous follow-ups), so one trace shows the payment
from creation to its last callback."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, Span, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_tracer = trace.get_tracer(__name__)
_propagator = TraceContextTextMapPropagator()


def _payment_context(traceparent: str) -> Context:
    """The payment's trace as the parent; an empty context (a trace of its own) when the
    payment has none recorded (created before traceparents were kept)."""
    return _propagator.extract({"traceparent": traceparent}) if traceparent else Context()


@contextlib.contextmanager
def in_payment_trace(
    name: str,
    traceparent: str,
    attributes: Mapping[str, str | int],
    kind: SpanKind = SpanKind.INTERNAL,
) -> Iterator[Span]:
    """A span of the payment's trace, linked to the current span (the one that brought the
    work in, in a trace of its own) when there is one."""
    arrived = trace.get_current_span().get_span_context()
    links = [Link(arrived)] if arrived.is_valid else []
    with _tracer.start_as_current_span(
        name,
        context=_payment_context(traceparent),
        kind=kind,
        links=links,
        attributes=dict(attributes),
    ) as span:
        yield span
