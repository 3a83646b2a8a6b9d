"""The gateway's HTTP listener for channel notifications: POST /notify/{channel}, signed."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Callable, Mapping
from typing import Protocol

from aiohttp import web
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from gateway.adapters.channels.walletsim_common import SignedNotification
from gateway.service_layer.deps import PaymentDeps
from gateway.service_layer.notifications import NotificationResult, receive_notification
from paysuite.http_signing import REPLAYED, NonceCache, SignatureError
from paysuite.runtime import span_attributes as attrs

_log = logging.getLogger(__name__)
_tracer = trace.get_tracer(__name__)

MAX_BODY_BYTES = 64 * 1024

_STATUS = {
    NotificationResult.APPLIED: 200,
    NotificationResult.DUPLICATE: 200,
    NotificationResult.IGNORED: 200,
    NotificationResult.UNKNOWN_PAYMENT: 404,
    NotificationResult.MISMATCH: 400,
}


class NotifyingChannel(Protocol):
    """A channel adapter that reads its own signed notifications and answers them its way."""

    name: str

    def read_notification(
        self, body: bytes, headers: Mapping[str, str], now: int
    ) -> SignedNotification: ...

    def notify_reply(self, ok: bool) -> tuple[bytes, str]: ...


class NotificationListener:
    """Verifies, de-duplicates and applies notifications; logs ids and outcomes, no bodies.

    A forged or stale signature gets 401, and so does a nonce seen before within the window
    (a replay). A resent notification (same id, new signature) is acknowledged and not applied
    again: the applied ids are kept in the database with the payment they changed.
    """

    def __init__(
        self,
        deps: PaymentDeps,
        channels: Mapping[str, NotifyingChannel],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._deps = deps
        self._channels = channels
        self._clock = clock
        self._nonces = NonceCache()

    def application(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app.router.add_post("/notify/{channel}", self.handle)
        return app

    @staticmethod
    def _reply(channel: NotifyingChannel, status: int, ok: bool) -> web.Response:
        body, content_type = channel.notify_reply(ok)
        return web.Response(status=status, body=body, content_type=content_type)

    async def handle(self, request: web.Request) -> web.Response:
        channel = self._channels.get(request.match_info["channel"])
        if channel is None:
            return web.Response(status=404, text="unknown channel")
        with _tracer.start_as_current_span("POST /notify/{channel}", kind=SpanKind.SERVER) as span:
            span.set_attribute(attrs.CHANNEL, channel.name)
            body = await request.read()
            now = int(self._clock())
            try:
                signed = channel.read_notification(body, request.headers, now)
            except SignatureError as exc:
                _log.warning(
                    "notification signature refused",
                    extra={"channel": channel.name, "code": exc.code},
                )
                return self._reply(channel, 401, ok=False)
            except (ValueError, TypeError, KeyError) as exc:
                _log.warning(
                    "notification unreadable",
                    extra={"channel": channel.name, "error": type(exc).__name__},
                )
                return self._reply(channel, 400, ok=False)
            if not self._nonces.check_and_add(signed.nonce, timestamp=signed.timestamp, now=now):
                _log.warning(
                    "notification replayed", extra={"channel": channel.name, "code": REPLAYED}
                )
                return self._reply(channel, 401, ok=False)
            notification = signed.notification
            span.set_attribute(attrs.PAYMENT_ID, notification.payment_id)
            try:
                result = await receive_notification(self._deps, channel.name, notification)
            except Exception:  # the channel retries: better than losing its word
                _log.exception(
                    "notification not applied",
                    extra={"channel": channel.name, "payment_id": notification.payment_id},
                )
                return self._reply(channel, 500, ok=False)
            span.set_attribute(attrs.NOTIFICATION_RESULT, result.value)
            status = _STATUS[result]
            return self._reply(channel, status, ok=status == 200)


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (0 picks a free port), so the port is known early."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host.strip("[]"), port), family=family, backlog=128)


async def serve_listener(app: web.Application, sock: socket.socket) -> None:
    """Serves app on the socket until cancelled, then lets requests under way finish."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=5.0)
    await runner.setup()
    try:
        await web.SockSite(runner, sock).start()
        _log.info("notification listener serving", extra={"port": sock.getsockname()[1]})
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
