"""The simulators' server spans: name, kind, parent, attributes and error status per request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from aiohttp import web
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import SpanKind, StatusCode, format_span_id, format_trace_id

from channelsim.tracing import tracing_middlewares

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
# The trace ids the handler saw as current, by path: log lines carry that id.
SEEN = web.AppKey("seen", dict[str, str])


async def _ok(request: web.Request) -> web.Response:
    context = trace.get_current_span().get_span_context()
    request.app[SEEN][request.path] = format_trace_id(context.trace_id) if context.is_valid else ""
    return web.Response(text="ok")


async def _busy(_: web.Request) -> web.Response:
    return web.Response(status=503)


async def _broken(_: web.Request) -> web.Response:
    raise RuntimeError("handler failed")


@asynccontextmanager
async def _server(provider: TracerProvider) -> AsyncIterator[tuple[str, dict[str, str]]]:
    app = web.Application(middlewares=tracing_middlewares(provider))
    app[SEEN] = {}
    app.add_routes(
        [
            web.post("/api/orders/{order_no}", _ok),
            web.post("/api/busy", _busy),
            web.post("/api/broken", _broken),
        ]
    )
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}", app[SEEN]
    finally:
        await runner.cleanup()


def _provider(exporter: InMemorySpanExporter, ratio: float = 1.0) -> TracerProvider:
    provider = TracerProvider(sampler=ParentBased(TraceIdRatioBased(ratio)))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


async def _post(base: str, path: str, flags: str | None = None) -> int:
    headers = {"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-{flags}"} if flags else {}
    async with aiohttp.ClientSession() as session, session.post(base + path, headers=headers) as r:
        await r.read()
        return r.status


def _only(exporter: InMemorySpanExporter) -> ReadableSpan:
    [span] = exporter.get_finished_spans()
    return span


async def test_a_sampled_request_continues_the_callers_trace_with_its_route() -> None:
    exporter = InMemorySpanExporter()
    async with _server(_provider(exporter)) as (base, seen):
        assert await _post(base, "/api/orders/A-1?mch_id=M1", flags="01") == 200

    span = _only(exporter)
    assert span.name == "POST /api/orders/{order_no}"
    assert span.kind == SpanKind.SERVER
    assert format_trace_id(span.context.trace_id) == TRACE_ID
    assert span.parent is not None
    assert format_span_id(span.parent.span_id) == PARENT_ID
    attributes = dict(span.attributes or {})
    assert attributes["http.method"] == "POST"
    assert attributes["http.route"] == "/api/orders/{order_no}"
    assert attributes["http.target"] == "/api/orders/A-1"
    assert "mch_id" not in str(attributes["http.url"])
    assert attributes["http.status_code"] == 200
    assert span.status.status_code is StatusCode.UNSET
    assert seen["/api/orders/A-1"] == TRACE_ID


async def test_an_unsampled_caller_gets_no_span_but_keeps_its_trace_id_current() -> None:
    exporter = InMemorySpanExporter()
    async with _server(_provider(exporter)) as (base, seen):
        assert await _post(base, "/api/orders/A-2", flags="00") == 200

    assert exporter.get_finished_spans() == ()
    assert seen["/api/orders/A-2"] == TRACE_ID


async def test_a_request_without_traceparent_starts_a_trace_of_its_own() -> None:
    exporter = InMemorySpanExporter()
    async with _server(_provider(exporter)) as (base, seen):
        assert await _post(base, "/api/orders/A-3") == 200

    span = _only(exporter)
    assert span.parent is None
    assert seen["/api/orders/A-3"] == format_trace_id(span.context.trace_id)


async def test_server_errors_and_failed_handlers_mark_the_span_an_error() -> None:
    exporter = InMemorySpanExporter()
    async with _server(_provider(exporter)) as (base, _):
        assert await _post(base, "/api/busy", flags="01") == 503
        assert await _post(base, "/api/broken", flags="01") == 500

    busy, broken = exporter.get_finished_spans()
    assert busy.status.status_code is StatusCode.ERROR
    assert dict(busy.attributes or {})["http.status_code"] == 503
    assert broken.status.status_code is StatusCode.ERROR
    assert [event.name for event in broken.events] == ["exception"]


async def test_an_unrouted_path_is_named_by_its_method_only() -> None:
    exporter = InMemorySpanExporter()
    async with _server(_provider(exporter)) as (base, _):
        assert await _post(base, "/nowhere", flags="01") == 404

    span = _only(exporter)
    assert span.name == "POST"
    assert dict(span.attributes or {})["http.status_code"] == 404
    assert span.status.status_code is StatusCode.UNSET
