"""Where payctl reads a trace's spans: the suite's OTLP/JSON lines file, or Jaeger's query API.

Both give the trace's own spans and the spans of other traces that link to it (a batch sent
for several payments, the ledger's shared transaction), as plain records.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_KINDS = {"server": "SERVER", "client": "CLIENT", "producer": "PRODUCER", "consumer": "CONSUMER"}


@dataclass(frozen=True)
class SpanRecord:
    trace_id: str
    span_id: str
    parent_id: str
    service: str
    name: str
    kind: str  # SERVER, CLIENT, INTERNAL, ...
    start_ns: int
    end_ns: int
    error: bool = False
    links: tuple[tuple[str, str], ...] = ()
    attributes: dict[str, str] = field(default_factory=dict)

    @property
    def duration_ms(self) -> float:
        return (self.end_ns - self.start_ns) / 1e6


def _value(value: dict[str, Any]) -> str:
    return str(next(iter(value.values()), ""))


def _otlp_span(span: dict[str, Any], service: str) -> SpanRecord:
    return SpanRecord(
        trace_id=span["traceId"],
        span_id=span["spanId"],
        parent_id=span.get("parentSpanId", ""),
        service=service,
        name=span["name"],
        kind=span.get("kind", "SPAN_KIND_INTERNAL").removeprefix("SPAN_KIND_"),
        start_ns=int(span["startTimeUnixNano"]),
        end_ns=int(span["endTimeUnixNano"]),
        error=span.get("status", {}).get("code") == "STATUS_CODE_ERROR",
        links=tuple((link["traceId"], link["spanId"]) for link in span.get("links", [])),
        attributes={a["key"]: _value(a["value"]) for a in span.get("attributes", [])},
    )


def otlp_file_spans(path: Path, trace_id: str) -> Iterator[SpanRecord]:
    """The trace's spans and those linking to it, from a file of ExportTraceServiceRequest
    lines (a line still being written, without its newline, is skipped)."""
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if trace_id not in line or not line.endswith("\n"):
                continue
            for resource_spans in json.loads(line)["resourceSpans"]:
                service = next(
                    (
                        _value(a["value"])
                        for a in resource_spans["resource"].get("attributes", [])
                        if a["key"] == "service.name"
                    ),
                    "?",
                )
                for scope in resource_spans["scopeSpans"]:
                    for span in scope["spans"]:
                        record = _otlp_span(span, service)
                        if record.trace_id == trace_id or any(
                            linked == trace_id for linked, _ in record.links
                        ):
                            yield record


def _jaeger_span(span: dict[str, Any], processes: dict[str, Any]) -> SpanRecord:
    tags = {t["key"]: str(t["value"]) for t in span.get("tags", [])}
    references = span.get("references", [])
    parent = next((r["spanID"] for r in references if r["refType"] == "CHILD_OF"), "")
    links = tuple((r["traceID"], r["spanID"]) for r in references if r["refType"] == "FOLLOWS_FROM")
    start_ns = int(span["startTime"]) * 1000
    return SpanRecord(
        trace_id=span["traceID"],
        span_id=span["spanID"],
        parent_id=parent,
        service=processes.get(span["processID"], {}).get("serviceName", "?"),
        name=span["operationName"],
        kind=_KINDS.get(tags.get("span.kind", ""), "INTERNAL"),
        start_ns=start_ns,
        end_ns=start_ns + int(span["duration"]) * 1000,
        error=tags.get("error") in ("true", "True"),
        links=links,
        attributes=tags,
    )


def jaeger_spans(base_url: str, trace_id: str, timeout: float = 10.0) -> Iterator[SpanRecord]:
    """The trace's spans from Jaeger's query API (GET /api/traces/{id})."""
    url = f"{base_url.rstrip('/')}/api/traces/{trace_id}"
    with urllib.request.urlopen(url, timeout=timeout) as answer:
        body = json.load(answer)
    for trace in body.get("data", []):
        processes = trace.get("processes", {})
        for span in trace.get("spans", []):
            yield _jaeger_span(span, processes)
