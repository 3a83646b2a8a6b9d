"""payctl trace's reading and tree: spans as the suite's exporter writes them, put in order."""

from __future__ import annotations

import time
from pathlib import Path

from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Link, SpanKind, format_trace_id

from payctl.trace_sources import otlp_file_spans
from payctl.trace_tree import as_json, lines, tree
from paysuite.runtime.otlp_json_file import OtlpJsonFileExporter


def _provider(service: str, path: Path) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service}))
    provider.add_span_processor(SimpleSpanProcessor(OtlpJsonFileExporter(path)))
    return provider


def test_a_payments_spans_come_back_as_a_tree_with_linked_batches(tmp_path: Path) -> None:
    path = tmp_path / "traces.jsonl"
    gateway, ledger = _provider("gateway", path), _provider("ledger", path)
    tracer = gateway.get_tracer("test")
    with tracer.start_as_current_span("GatewayService/CreatePayment", kind=SpanKind.SERVER) as root:
        with tracer.start_as_current_span("gateway.channel_attempt"):
            time.sleep(0.002)
        with tracer.start_as_current_span("IdentityService/AuthorizePayment", kind=SpanKind.CLIENT):
            pass
    with tracer.start_as_current_span("unrelated"):
        pass
    # Another trace's span linked to the payment's: a batch sent for several payments.
    with ledger.get_tracer("test").start_as_current_span(
        "ledger.group_commit", links=[Link(root.get_span_context())]
    ):
        pass
    trace_id = format_trace_id(root.get_span_context().trace_id)

    rows = tree(otlp_file_spans(path, trace_id), trace_id)

    assert [(r.depth, r.span.service, r.span.name, r.linked) for r in rows] == [
        (0, "gateway", "GatewayService/CreatePayment", False),
        (1, "gateway", "gateway.channel_attempt", False),
        (1, "gateway", "IdentityService/AuthorizePayment", False),
        (1, "ledger", "ledger.group_commit", True),
    ]
    assert rows[1].span.duration_ms >= 2.0
    assert rows[0].offset_ms == 0.0 and rows[2].offset_ms >= rows[1].offset_ms
    assert lines(rows)[3].startswith("  ~> ledger")
    assert as_json(rows)[2]["kind"] == "CLIENT"


def test_a_line_still_being_written_is_left_for_later(tmp_path: Path) -> None:
    trace_id = "ab" * 16
    path = tmp_path / "traces.jsonl"
    path.write_text('{"resourceSpans": []}\n{"resourceSpans": [{"traceId": "' + trace_id + '"')
    assert list(otlp_file_spans(path, trace_id)) == []
