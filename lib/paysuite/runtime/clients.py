"""Outbound gRPC channels over mutual TLS, with trace propagation."""

from __future__ import annotations

from typing import Any

import grpc

from paysuite.runtime.grpc_spans import ClientSpans
from paysuite.runtime.metrics import RpcClientMetrics
from paysuite.runtime.rotating_channel import CHECK_EVERY_SECONDS, RotatingChannel
from paysuite.runtime.server import MAX_MESSAGE_BYTES
from paysuite.runtime.tls import TlsFiles


def open_channel(
    address: str, tls: TlsFiles, check_every: float = CHECK_EVERY_SECONDS
) -> grpc.aio.Channel:
    """A channel to another service, presenting this service's certificate (the files' current
    one: looked at every check_every seconds, rotated without a restart); its calls carry the
    current trace context and are measured (rpc.client.duration)."""
    spans, measured = ClientSpans(), RpcClientMetrics()

    def open_with(credentials: grpc.ChannelCredentials) -> grpc.aio.Channel:
        # Measured outermost, so a call's duration includes its client span.
        interceptors: list[Any] = [*measured.interceptors(), *spans.interceptors()]
        return grpc.aio.secure_channel(
            address,
            credentials,
            interceptors=interceptors,
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                ("grpc.enable_retries", 1),
            ],
        )

    return RotatingChannel(tls, open_with, check_every)
