"""Server interceptors wrap a method's handler once and reuse it on every later call."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

import grpc
import pytest

from paysuite.gateway.v1 import gateway_service_pb2
from paysuite.runtime.authz import AuthorizationInterceptor, Policy
from paysuite.runtime.grpc_errors import ErrorMappingInterceptor
from paysuite.runtime.grpc_spans import ServerSpans
from paysuite.runtime.method_handlers import WrappedPerMethod
from paysuite.runtime.metrics import RpcMetricsInterceptor
from paysuite.runtime.request_ids import RequestIdInterceptor, RequestIdStore

if TYPE_CHECKING:
    from paysuite.runtime.method_handlers import Handler

METHOD = "/paysuite.test.v1.TestService/Do"


async def _echo(request: Any, _context: Any) -> Any:
    return request


class _Details(grpc.HandlerCallDetails):
    def __init__(self, method: str) -> None:
        self.method = method
        self.invocation_metadata = ()


def _handler() -> Handler:
    return grpc.unary_unary_rpc_method_handler(_echo)


def test_a_method_is_wrapped_once_while_its_handler_stays_the_same() -> None:
    wrapped: list[str] = []

    def wrap(handler: Handler, method: str) -> Handler:
        wrapped.append(method)
        return _handler()

    per_method = WrappedPerMethod(wrap)
    handler, other = _handler(), _handler()
    first = per_method(handler, METHOD)
    assert per_method(handler, METHOD) is first
    assert wrapped == [METHOD]
    # Another method, or another handler for the method, is wrapped anew.
    per_method(handler, "/paysuite.test.v1.TestService/Other")
    assert per_method(other, METHOD) is not first
    assert wrapped == [METHOD, "/paysuite.test.v1.TestService/Other", METHOD]


@pytest.mark.parametrize(
    "interceptor",
    [
        ErrorMappingInterceptor("test.paysuite"),
        ServerSpans(),
        RpcMetricsInterceptor(),
        AuthorizationInterceptor(Policy({METHOD: ("service/*",)})),
    ],
    ids=["errors", "spans", "metrics", "authz"],
)
async def test_each_server_interceptor_hands_out_one_wrapped_handler_per_method(
    interceptor: grpc.aio.ServerInterceptor[Any, Any],
) -> None:
    handler = _handler()

    async def continuation(_details: grpc.HandlerCallDetails) -> Handler:
        return handler

    intercept: Callable[[Any, Any], Awaitable[Handler]] = interceptor.intercept_service
    first = await intercept(continuation, _Details(METHOD))
    again = await intercept(continuation, _Details(METHOD))
    assert first is not handler
    assert again is first


async def test_the_request_id_interceptor_wraps_a_keyed_method_once() -> None:
    keyed = "/paysuite.gateway.v1.GatewayService/ClosePayment"
    assert gateway_service_pb2.DESCRIPTOR.services_by_name["GatewayService"].methods_by_name[
        "ClosePayment"
    ]
    handler = _handler()

    async def continuation(_details: grpc.HandlerCallDetails) -> Handler:
        return handler

    # Wrapping reads no store: the store is used by calls only.
    interceptor = RequestIdInterceptor(RequestIdStore(cast(Any, None)), {keyed: "request_id"})
    first = await interceptor.intercept_service(continuation, _Details(keyed))
    assert first is not handler
    assert await interceptor.intercept_service(continuation, _Details(keyed)) is first
    # A method without a key passes as it is.
    assert await interceptor.intercept_service(continuation, _Details(METHOD)) is handler
