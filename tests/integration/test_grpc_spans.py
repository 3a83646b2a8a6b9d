"""gRPC spans across a real call: a client span in the caller's trace, the server's span its
child by the metadata's traceparent, status codes and ERROR as the semantic conventions have
them, and trace context carried even when nothing is sampled."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    StatusCode,
    TraceFlags,
    format_span_id,
    format_trace_id,
)

from devstack.pki import DevCA
from paysuite.errors import NotFound
from paysuite.runtime.authz import Policy
from paysuite.runtime.clients import open_channel
from paysuite.runtime.identities import service
from paysuite.runtime.server import RunningServer, Security, ServiceApp, start_server
from tests.helpers import connect

SERVICE = "test.v1.Spans"
seen: list[SpanContext] = []


async def _ok(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
    seen.append(trace.get_current_span().get_span_context())
    return request


async def _missing(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
    raise NotFound("no such thing")


async def _broken(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
    raise RuntimeError("a bug")


async def _unavailable(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
    context.set_code(grpc.StatusCode.UNAVAILABLE)
    context.set_details("try later")
    return b""


async def _stream(
    request: bytes, context: grpc.aio.ServicerContext[Any, Any]
) -> AsyncIterator[bytes]:
    seen.append(trace.get_current_span().get_span_context())
    for _ in range(3):
        yield request


async def _stream_broken(
    request: bytes, context: grpc.aio.ServicerContext[Any, Any]
) -> AsyncIterator[bytes]:
    yield request
    raise RuntimeError("a bug mid-stream")


def _method(name: str) -> str:
    return f"/{SERVICE}/{name}"


@pytest.fixture
async def server(test_ca: DevCA, spans: InMemorySpanExporter) -> AsyncIterator[RunningServer]:
    unary = {"Ok": _ok, "Missing": _missing, "Broken": _broken, "Unavailable": _unavailable}
    streams = {"Stream": _stream, "StreamBroken": _stream_broken}
    handlers = {n: grpc.unary_unary_rpc_method_handler(f) for n, f in unary.items()} | {
        n: grpc.unary_stream_rpc_method_handler(f) for n, f in streams.items()
    }

    def register(server: grpc.aio.Server) -> None:
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))

    callers = ("service/gateway", "operator/*")
    security = Security(
        tls=test_ca.files(service("ledger")),
        policy=Policy({_method(name): callers for name in handlers}),
    )
    app = ServiceApp(name="test", services=[], register=register)
    running = await start_server(app, host="127.0.0.1", port=0, security=security)
    seen.clear()
    spans.clear()
    yield running
    await running.stop(0)


def _finished(exporter: InMemorySpanExporter, trace_id: int) -> dict[SpanKind, ReadableSpan]:
    provider = trace.get_tracer_provider()
    assert isinstance(provider, SdkTracerProvider)
    provider.force_flush()
    found = [s for s in exporter.get_finished_spans() if s.context.trace_id == trace_id]
    by_kind: dict[SpanKind, ReadableSpan] = {
        s.kind: s for s in found if s.kind in (SpanKind.CLIENT, SpanKind.SERVER)
    }
    assert len(by_kind) == len(found) - 1, [s.name for s in found]  # and the caller's own
    return by_kind


async def _call(test_ca: DevCA, running: RunningServer, name: str) -> grpc.StatusCode:
    """Calls the method as the gateway does, under a span of its own; the code it got."""
    async with open_channel(
        f"127.0.0.1:{running.port}", test_ca.files(service("gateway"))
    ) as channel:
        try:
            if name.startswith("Stream"):
                async for _ in channel.unary_stream(_method(name), None, None)(b"x"):
                    pass
            else:
                await channel.unary_unary(_method(name), None, None)(b"x")
        except grpc.aio.AioRpcError as exc:
            return exc.code()
    return grpc.StatusCode.OK


@pytest.mark.parametrize("name", ["Ok", "Stream"])
async def test_the_server_span_is_the_child_of_the_callers_client_span(
    test_ca: DevCA, server: RunningServer, spans: InMemorySpanExporter, name: str
) -> None:
    with trace.get_tracer("test").start_as_current_span("caller") as caller:
        assert await _call(test_ca, server, name) is grpc.StatusCode.OK
    got = _finished(spans, caller.get_span_context().trace_id)
    client, served = got[SpanKind.CLIENT], got[SpanKind.SERVER]
    assert client.name == served.name == _method(name)
    assert client.parent is not None and served.parent is not None
    assert client.parent.span_id == caller.get_span_context().span_id
    assert served.parent.span_id == client.context.span_id
    assert served.parent.is_remote
    # The handler runs under the server span: its own spans and attributes land there.
    assert seen == [served.context]
    expected = {
        "rpc.system": "grpc",
        "rpc.service": SERVICE,
        "rpc.method": name,
        "rpc.grpc.status_code": 0,
    }
    assert dict(client.attributes or {}) == expected
    attributes = dict(served.attributes or {})
    assert {k: attributes[k] for k in expected} == expected
    assert attributes["net.peer.ip"] == "127.0.0.1"
    assert int(str(attributes["net.peer.port"])) > 0
    assert served.status.status_code is client.status.status_code is StatusCode.UNSET
    assert served.end_time is not None and client.end_time is not None


@pytest.mark.parametrize(
    ("name", "code", "server_error"),
    [
        # The caller's mistake: an ERROR for the client, not for the server.
        ("Missing", grpc.StatusCode.NOT_FOUND, False),
        # Mapped to a safe INTERNAL by the error interceptor, inside the span.
        ("Broken", grpc.StatusCode.INTERNAL, True),
        ("Unavailable", grpc.StatusCode.UNAVAILABLE, True),
        ("StreamBroken", grpc.StatusCode.INTERNAL, True),
    ],
)
async def test_spans_end_with_the_code_the_caller_got(
    test_ca: DevCA,
    server: RunningServer,
    spans: InMemorySpanExporter,
    name: str,
    code: grpc.StatusCode,
    server_error: bool,
) -> None:
    with trace.get_tracer("test").start_as_current_span("caller") as caller:
        assert await _call(test_ca, server, name) is code
    got = _finished(spans, caller.get_span_context().trace_id)
    client, served = got[SpanKind.CLIENT], got[SpanKind.SERVER]
    assert served.parent is not None and served.parent.span_id == client.context.span_id
    for span in (client, served):
        assert (span.attributes or {})["rpc.grpc.status_code"] == code.value[0]
    assert client.status.status_code is StatusCode.ERROR
    if server_error:
        assert served.status.status_code is StatusCode.ERROR
        assert (served.status.description or "").startswith(f"{code}:")
    else:
        assert served.status.status_code is StatusCode.UNSET
    # Internals stay in the logs: the bug's message reaches neither span.
    for span in (client, served):
        assert "a bug" not in str(span.status.description)
        assert all("a bug" not in str(e.attributes) for e in span.events)


async def test_an_unsampled_trace_is_carried_on_without_spans(
    test_ca: DevCA, server: RunningServer, spans: InMemorySpanExporter
) -> None:
    unsampled = SpanContext(
        trace_id=0x0AF7651916CD43DD8448EB211C80319C,
        span_id=0xB7AD6B7169203331,
        is_remote=False,
        trace_flags=TraceFlags(TraceFlags.DEFAULT),
    )
    with trace.use_span(NonRecordingSpan(unsampled)):
        assert await _call(test_ca, server, "Ok") is grpc.StatusCode.OK
    provider = trace.get_tracer_provider()
    assert isinstance(provider, SdkTracerProvider)
    provider.force_flush()
    assert not [s for s in spans.get_finished_spans() if s.context.trace_id == unsampled.trace_id]
    # The server went on in the caller's trace, unsampled as the caller said.
    (handled,) = seen
    assert handled.trace_id == unsampled.trace_id
    assert handled.span_id != unsampled.span_id
    assert not handled.trace_flags.sampled


async def test_a_traceparent_from_any_client_parents_the_server_span(
    server: RunningServer, spans: InMemorySpanExporter
) -> None:
    trace_id, parent_id = 0x4BF92F3577B34DA6A3CE929D0E0E4736, 0x00F067AA0BA902B7
    traceparent = f"00-{format_trace_id(trace_id)}-{format_span_id(parent_id)}-01"
    async with connect(f"127.0.0.1:{server.port}") as channel:
        await channel.unary_unary(_method("Ok"), None, None)(
            b"x", metadata=(("traceparent", traceparent), ("tracestate", "vendor=1"))
        )
    provider = trace.get_tracer_provider()
    assert isinstance(provider, SdkTracerProvider)
    provider.force_flush()
    (served,) = [s for s in spans.get_finished_spans() if s.context.trace_id == trace_id]
    assert served.kind is SpanKind.SERVER
    assert served.parent is not None and served.parent.span_id == parent_id
    assert served.context.trace_state.get("vendor") == "1"
