"""A span exporter that appends OTLP JSON to a file, a batch per line, safe across processes."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path

import orjson
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from paysuite.runtime.otlp_json import export_request


def span_line(spans: Sequence[ReadableSpan]) -> str:
    """The spans as one OTLP ExportTraceServiceRequest JSON line (the collector's file format)."""
    return orjson.dumps(export_request(spans)).decode() + "\n"


class OtlpJsonFileExporter(SpanExporter):
    """Appends each exported batch to a JSONL file as one line in one O_APPEND write, so
    processes can share the file without interleaving their lines."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if not spans:
            return SpanExportResult.SUCCESS
        data = span_line(spans).encode()
        with self._lock:
            os.write(self._fd, data)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
