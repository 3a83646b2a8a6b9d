"""Client interceptors by kind of call: a grpc.aio channel files an interceptor object under the
first kind it implements, so a concern that wraps several kinds needs one object per kind."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeAlias

import grpc

if TYPE_CHECKING:
    _UnaryUnary = grpc.aio.UnaryUnaryClientInterceptor[Any, Any]
    _UnaryStream = grpc.aio.UnaryStreamClientInterceptor[Any, Any]
    _StreamUnary = grpc.aio.StreamUnaryClientInterceptor[Any, Any]
else:  # generic only in the type stubs
    _UnaryUnary = grpc.aio.UnaryUnaryClientInterceptor
    _UnaryStream = grpc.aio.UnaryStreamClientInterceptor
    _StreamUnary = grpc.aio.StreamUnaryClientInterceptor

# (continuation, the call's details, its request or request iterator) -> what the call gives.
Around: TypeAlias = Callable[[Callable[..., Any], Any, Any], Awaitable[Any]]


class _UnaryUnaryAround(_UnaryUnary):
    def __init__(self, around: Around) -> None:
        self._around = around

    async def intercept_unary_unary(
        self, continuation: Callable[..., Any], client_call_details: Any, request: Any
    ) -> Any:
        return await self._around(continuation, client_call_details, request)


class _StreamUnaryAround(_StreamUnary):
    def __init__(self, around: Around) -> None:
        self._around = around

    async def intercept_stream_unary(
        self, continuation: Callable[..., Any], client_call_details: Any, request_iterator: Any
    ) -> Any:
        return await self._around(continuation, client_call_details, request_iterator)


class _UnaryStreamAround(_UnaryStream):
    def __init__(self, around: Around) -> None:
        self._around = around

    async def intercept_unary_stream(
        self, continuation: Callable[..., Any], client_call_details: Any, request: Any
    ) -> Any:
        return await self._around(continuation, client_call_details, request)


def by_kind(
    *,
    unary_unary: Around | None = None,
    stream_unary: Around | None = None,
    unary_stream: Around | None = None,
) -> list[Any]:
    """One interceptor object for each kind of call given a wrapper."""
    found: list[Any] = []
    if unary_unary is not None:
        found.append(_UnaryUnaryAround(unary_unary))
    if stream_unary is not None:
        found.append(_StreamUnaryAround(stream_unary))
    if unary_stream is not None:
        found.append(_UnaryStreamAround(unary_stream))
    return found
