"""A gRPC method handler with its behaviour wrapped by the way the method answers: what every
server interceptor of the runtime does to the handler it is given."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeAlias

import grpc

if TYPE_CHECKING:
    Handler: TypeAlias = grpc.RpcMethodHandler[Any, Any]
    ServerInterceptor = grpc.aio.ServerInterceptor[Any, Any]
else:  # generic only in the type stubs
    ServerInterceptor = grpc.aio.ServerInterceptor

Behaviour: TypeAlias = Callable[..., Any]


def health_probe(method: str) -> bool:
    """Whether a call is a health probe: neither measured nor traced."""
    return method.startswith("/grpc.health.v1.Health/")


def rewrapped(
    handler: Handler,
    once: Callable[[Behaviour], Behaviour],
    streaming: Callable[[Behaviour], Behaviour],
) -> Handler:
    """The handler with its behaviour wrapped: by `once` when the method answers once (unary
    and client-streaming), by `streaming` when it streams its answers."""
    codec: dict[str, Any] = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(once(handler.unary_unary), **codec)
    if handler.stream_unary is not None:
        return grpc.stream_unary_rpc_method_handler(once(handler.stream_unary), **codec)
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(streaming(handler.unary_stream), **codec)
    if handler.stream_stream is not None:
        return grpc.stream_stream_rpc_method_handler(streaming(handler.stream_stream), **codec)
    return handler


class WrappedPerMethod:
    """Each method's handler as an interceptor wraps it, made on the method's first call and
    reused: the wrapping depends on the method alone, and a call then allocates no handler.
    Kept per registered method (the only ones a handler comes back for), and made again if
    the server hands out another handler for the method."""

    def __init__(self, wrap: Callable[[Handler, str], Handler]) -> None:
        self._wrap = wrap
        self._made: dict[str, tuple[Handler, Handler]] = {}

    def __call__(self, handler: Handler, method: str) -> Handler:
        made = self._made.get(method)
        if made is None or made[0] is not handler:
            made = (handler, self._wrap(handler, method))
            self._made[method] = made
        return made[1]


class MethodWrappingInterceptor(ServerInterceptor):
    """A server interceptor that wraps each method's behaviour the same way on every call: by
    `once` when the method answers once, by `streaming` when it streams. The wrapped handler
    is made on a method's first call and reused (WrappedPerMethod)."""

    # Whether health probes are wrapped too (the interceptors that measure or trace skip them).
    wraps_health_probes = True

    def __init__(self) -> None:
        self._wrapped = WrappedPerMethod(self._wrap_handler)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler]],
        details: grpc.HandlerCallDetails,
    ) -> Handler:
        handler = await continuation(details)
        if handler is None or (not self.wraps_health_probes and health_probe(details.method)):
            return handler
        return self._wrapped(handler, details.method)

    def _wrap_handler(self, handler: Handler, method: str) -> Handler:
        return rewrapped(
            handler,
            lambda behaviour: self.once(behaviour, method),
            lambda behaviour: self.streaming(behaviour, method),
        )

    def once(self, behaviour: Behaviour, method: str) -> Behaviour:
        raise NotImplementedError

    def streaming(self, behaviour: Behaviour, method: str) -> Behaviour:
        raise NotImplementedError


async def answers_of(behaviour: Behaviour, request: Any, context: Any) -> AsyncIterator[Any]:
    """The answers a streaming behaviour gives: those it yields, none when it writes them with
    context.write and returns."""
    answers = behaviour(request, context)
    if hasattr(answers, "__aiter__"):
        async for answer in answers:
            yield answer
    else:
        await answers
