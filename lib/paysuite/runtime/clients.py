"""Outbound gRPC channels over mutual TLS, with trace propagation."""

from __future__ import annotations

from typing import Any

import grpc
from opentelemetry.instrumentation.grpc import aio_client_interceptors

from paysuite.runtime.metrics import RpcClientMetricsInterceptor
from paysuite.runtime.server import MAX_MESSAGE_BYTES
from paysuite.runtime.tls import TlsFiles, channel_credentials


def open_channel(address: str, tls: TlsFiles) -> grpc.aio.Channel:
    """A channel to another service, presenting this service's certificate; its calls carry
    the current trace context and are measured (rpc.client.duration)."""
    # Measured outermost, so a call's duration includes its client span.
    interceptors: list[Any] = [RpcClientMetricsInterceptor(), *aio_client_interceptors()]
    return grpc.aio.secure_channel(
        address,
        channel_credentials(tls),
        interceptors=interceptors,
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.enable_retries", 1),
        ],
    )
