"""OTLP/JSON encoding of finished spans, built directly (no protobuf round trip per span)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import StatusCode, format_span_id, format_trace_id

_STATUS = {
    StatusCode.UNSET: None,
    StatusCode.OK: "STATUS_CODE_OK",
    StatusCode.ERROR: "STATUS_CODE_ERROR",
}


def any_value(value: Any) -> dict[str, Any]:
    """An OTLP AnyValue: ints as strings (int64 in JSON), the rest by type."""
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, bytes):
        return {"bytesValue": value.hex()}
    if isinstance(value, Sequence):
        return {"arrayValue": {"values": [any_value(v) for v in value]}}
    return {"stringValue": str(value)}


def attributes(values: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    return [{"key": k, "value": any_value(v)} for k, v in (values or {}).items()]


def span_json(span: ReadableSpan) -> dict[str, Any]:
    context = span.get_span_context()
    assert context is not None
    body: dict[str, Any] = {
        "traceId": format_trace_id(context.trace_id),
        "spanId": format_span_id(context.span_id),
        "name": span.name,
        "kind": f"SPAN_KIND_{span.kind.name}",
        "startTimeUnixNano": str(span.start_time or 0),
        "endTimeUnixNano": str(span.end_time or 0),
        "status": {},
    }
    if span.parent is not None:
        body["parentSpanId"] = format_span_id(span.parent.span_id)
    if span.attributes:
        body["attributes"] = attributes(span.attributes)
    if span.events:
        body["events"] = [
            {
                "timeUnixNano": str(e.timestamp),
                "name": e.name,
                **({"attributes": attributes(e.attributes)} if e.attributes else {}),
            }
            for e in span.events
        ]
    if span.links:
        body["links"] = [
            {
                "traceId": format_trace_id(link.context.trace_id),
                "spanId": format_span_id(link.context.span_id),
                **({"attributes": attributes(link.attributes)} if link.attributes else {}),
            }
            for link in span.links
        ]
    code = _STATUS[span.status.status_code]
    if code is not None:
        body["status"]["code"] = code
    if span.status.description:
        body["status"]["message"] = span.status.description
    return body


def scope_json(scope: InstrumentationScope | None) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if scope is not None:
        body["name"] = scope.name
        if scope.version:
            body["version"] = scope.version
    return body


def export_request(spans: Sequence[ReadableSpan]) -> dict[str, Any]:
    """Spans as one OTLP ExportTraceServiceRequest, grouped by resource and then by scope as
    the official encoder groups them, so a resource's attributes are written once a batch."""
    # By identity: a process has one Resource, and hashing one serialises its attributes.
    resources: dict[int, tuple[Resource, dict[InstrumentationScope | None, list[Any]]]] = {}
    for span in spans:
        _, scopes = resources.setdefault(id(span.resource), (span.resource, {}))
        scopes.setdefault(span.instrumentation_scope, []).append(span_json(span))
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": attributes(resource.attributes)},
                "scopeSpans": [
                    {"scope": scope_json(scope), "spans": encoded}
                    for scope, encoded in scopes.items()
                ],
            }
            for resource, scopes in resources.values()
        ]
    }
