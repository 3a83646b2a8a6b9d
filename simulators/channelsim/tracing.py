"""OpenTelemetry server spans for incoming requests, continuing the caller's traceparent."""

from __future__ import annotations

import warnings

from aiohttp.typedefs import Middleware
from opentelemetry.instrumentation.aiohttp_server import (
    AioHttpServerInstrumentor,
    create_aiohttp_middleware,
)
from opentelemetry.trace import TracerProvider


def tracing_middlewares(tracer_provider: TracerProvider | None = None) -> list[Middleware]:
    """The aiohttp-server instrumentation middleware to put first in an application.

    The package's middleware reads module state that only instrument() initialises, and
    instrument() also swaps web.Application for a subclass that inserts the middleware itself.
    If something already instrumented the process, that subclass adds it and we add nothing;
    otherwise we initialise the state, undo the global swap and add the middleware explicitly.
    Spans go to tracer_provider, or the global provider (a no-op until one is configured).
    """
    instrumentor = AioHttpServerInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        return []
    with warnings.catch_warnings():
        # instrument() subclasses web.Application, which aiohttp flags as discouraged.
        warnings.simplefilter("ignore", DeprecationWarning)
        instrumentor.instrument()
    instrumentor.uninstrument()
    middleware: Middleware = create_aiohttp_middleware(tracer_provider=tracer_provider)
    return [middleware]
