"""A metric exporter that appends OTLP JSON to a file, one export per line in one O_APPEND write,
so the suite's processes share the file (the metrics twin of the traces file, read when no
OTLP endpoint is set: `make run` writes .data/metrics.jsonl)."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from google.protobuf.json_format import MessageToJson
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData


def metrics_line(data: MetricsData) -> str:
    """The export as one OTLP ExportMetricsServiceRequest JSON line (the collector's format)."""
    return MessageToJson(encode_metrics(data), indent=None).replace("\n", " ") + "\n"


class OtlpJsonMetricFileExporter(MetricExporter):
    """Appends every export of the process's metrics to a JSONL file."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        self._lock = threading.Lock()

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        data = metrics_line(metrics_data).encode()
        with self._lock:
            if self._fd >= 0:
                os.write(self._fd, data)
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
