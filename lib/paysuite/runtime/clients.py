"""Outbound gRPC channels with trace propagation."""

from __future__ import annotations

import grpc
from opentelemetry.instrumentation.grpc import aio_client_interceptors

from paysuite.runtime.server import MAX_MESSAGE_BYTES


def open_channel(address: str) -> grpc.aio.Channel:
    """A channel to another service whose calls carry the current trace context."""
    return grpc.aio.insecure_channel(
        address,
        interceptors=aio_client_interceptors(),
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.enable_retries", 1),
        ],
    )
