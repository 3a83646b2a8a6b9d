"""A span exporter that appends OTLP JSON to a file, one span per line, safe across processes."""

from __future__ import annotations

import base64
import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from google.protobuf.json_format import MessageToDict
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

_ID_FIELDS = ("traceId", "spanId", "parentSpanId")


def _hex_ids(span: dict[str, Any]) -> dict[str, Any]:
    # OTLP/JSON encodes ids as hex, while protobuf's JSON mapping gives base64 for bytes.
    for name in _ID_FIELDS:
        if span.get(name):
            span[name] = _b64_to_hex(span[name])
    for link in span.get("links", []):
        for name in ("traceId", "spanId"):
            if link.get(name):
                link[name] = _b64_to_hex(link[name])
    return span


def _b64_to_hex(value: str) -> str:
    return base64.b64decode(value).hex()


def span_lines(spans: Sequence[ReadableSpan]) -> list[str]:
    """Encodes each span as one OTLP ExportTraceServiceRequest JSON line."""
    lines = []
    for span in spans:
        request = MessageToDict(encode_spans([span]))
        for resource_spans in request.get("resourceSpans", []):
            for scope_spans in resource_spans.get("scopeSpans", []):
                scope_spans["spans"] = [_hex_ids(s) for s in scope_spans.get("spans", [])]
        lines.append(json.dumps(request, separators=(",", ":")) + "\n")
    return lines


class OtlpJsonFileExporter(SpanExporter):
    """Appends spans to a JSONL file with O_APPEND single writes, so processes can share it."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with self._lock:
            for line in span_lines(spans):
                os.write(self._fd, line.encode())
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
