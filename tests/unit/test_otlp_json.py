"""The direct OTLP/JSON span encoding agrees with the official protobuf encoder's JSON."""

from __future__ import annotations

import base64
from typing import Any

from google.protobuf.json_format import MessageToDict
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

from paysuite.runtime.otlp_json import export_request


def _reference(spans: list[ReadableSpan]) -> dict[str, Any]:
    """The official encoder through protobuf's JSON mapping, with ids turned to OTLP hex."""
    document = MessageToDict(encode_spans(spans))
    for resource_spans in document["resourceSpans"]:
        for scope_spans in resource_spans["scopeSpans"]:
            for encoded in scope_spans["spans"]:
                encoded.pop("flags", None)  # trace flags: not written by the direct encoder
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in encoded:
                        encoded[key] = base64.b64decode(encoded[key]).hex()
                for link in encoded.get("links", []):
                    link.pop("flags", None)
                    for key in ("traceId", "spanId"):
                        link[key] = base64.b64decode(link[key]).hex()
    return document


def _spans(service: str = "gateway", scope: str = "paysuite.test") -> list[ReadableSpan]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer(scope, "1.2.3")
    with tracer.start_as_current_span("CreatePayment", kind=SpanKind.SERVER) as parent:
        parent.set_attribute("paysuite.payment.id", "pay_1")
        parent.set_attribute("rpc.grpc.status_code", 0)
        parent.set_attribute("ratio", 0.25)
        parent.set_attribute("retry", True)
        parent.set_attribute("codes", ["A", "B"])
        with tracer.start_as_current_span("charge", kind=SpanKind.CLIENT) as child:
            child.add_event("retry", {"attempt": 2})
            child.set_status(Status(StatusCode.ERROR, "timed out"))
    return list(exporter.get_finished_spans())


def test_direct_encoding_equals_the_reference_encoding() -> None:
    spans = _spans()
    assert len(spans) == 2
    for span in spans:
        assert export_request([span]) == _reference([span])


def test_a_batch_is_grouped_by_resource_and_scope_as_the_reference_groups_it() -> None:
    gateway, ledger = _spans("gateway"), _spans("ledger", "other.scope")
    batch = [gateway[0], ledger[0], gateway[1], ledger[1]]
    request = export_request(batch)
    assert request == _reference(batch)
    assert [len(r["scopeSpans"]) for r in request["resourceSpans"]] == [1, 1]
