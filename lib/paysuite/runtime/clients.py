"""Outbound gRPC channels over mutual TLS, with trace propagation."""

from __future__ import annotations

import grpc
from opentelemetry.instrumentation.grpc import aio_client_interceptors

from paysuite.runtime.server import MAX_MESSAGE_BYTES
from paysuite.runtime.tls import TlsFiles, channel_credentials


def open_channel(address: str, tls: TlsFiles) -> grpc.aio.Channel:
    """A channel to another service, presenting this service's certificate; its calls carry
    the current trace context."""
    return grpc.aio.secure_channel(
        address,
        channel_credentials(tls),
        interceptors=aio_client_interceptors(),
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.enable_retries", 1),
        ],
    )
