"""A span exporter that appends OTLP JSON to a file, one span per line, safe across processes."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from paysuite.runtime.otlp_json import export_request


def span_lines(spans: Sequence[ReadableSpan]) -> list[str]:
    """Each span as one OTLP ExportTraceServiceRequest JSON line."""
    return [json.dumps(export_request(span), separators=(",", ":")) + "\n" for span in spans]


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
