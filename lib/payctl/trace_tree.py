"""A trace's spans as a tree: each span under its parent, spans of other traces that link to
one of its spans under that span, in start order; printed for people or as JSON."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from payctl.trace_sources import SpanRecord


@dataclass(frozen=True)
class Row:
    depth: int
    span: SpanRecord
    offset_ms: float
    linked: bool  # reached by a link (another trace's span), not as a child


def tree(spans: Iterable[SpanRecord], trace_id: str) -> list[Row]:
    """Depth-first, children by start time; a span whose parent is missing is a root."""
    unique = {span.span_id: span for span in spans}
    children: dict[str, list[tuple[SpanRecord, bool]]] = {}
    roots: list[SpanRecord] = []
    for span in unique.values():
        if span.trace_id == trace_id:
            if span.parent_id in unique:
                children.setdefault(span.parent_id, []).append((span, False))
            else:
                roots.append(span)
            continue
        own = [s for t, s in span.links if t == trace_id and s in unique]
        if own:
            children.setdefault(own[0], []).append((span, True))
        elif span.parent_id in unique:
            children.setdefault(span.parent_id, []).append((span, False))
    if not roots:
        return []
    start = min(span.start_ns for span in roots)
    rows: list[Row] = []

    def visit(span: SpanRecord, depth: int, linked: bool) -> None:
        rows.append(Row(depth, span, (span.start_ns - start) / 1e6, linked))
        for child, by_link in sorted(children.get(span.span_id, []), key=lambda c: c[0].start_ns):
            visit(child, depth + 1, by_link)

    for root in sorted(roots, key=lambda s: s.start_ns):
        visit(root, 0, False)
    return rows


def lines(rows: list[Row]) -> list[str]:
    out = []
    for row in rows:
        span = row.span
        mark = "~> " if row.linked else ""
        status = "  ERROR" if span.error else ""
        out.append(
            f"{'  ' * row.depth}{mark}{span.service:9} {span.name}  {span.kind.lower()}"
            f"  +{row.offset_ms:.1f} ms  {span.duration_ms:.1f} ms{status}"
        )
    return out


def as_json(rows: list[Row]) -> list[dict[str, Any]]:
    return [
        {
            "depth": row.depth,
            "service": row.span.service,
            "operation": row.span.name,
            "kind": row.span.kind,
            "start_offset_ms": round(row.offset_ms, 3),
            "duration_ms": round(row.span.duration_ms, 3),
            "status": "ERROR" if row.span.error else "OK",
            "trace_id": row.span.trace_id,
            "span_id": row.span.span_id,
            "linked": row.linked,
        }
        for row in rows
    ]
