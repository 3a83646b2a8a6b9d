"""An outbound channel that presents the current client certificate without a restart.

gRPC's client credentials are fixed when a channel is made, so once the certificate files
change this opens a new channel with them: new calls go over it, calls in flight go on over the
old one, which is closed after a grace period (cancelling what still runs) or with this one.
A call costs a clock reading; the files are looked at once per interval (RotationWatch).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

import grpc

from paysuite.runtime.rotation_watch import RotationWatch
from paysuite.runtime.tls import Stamp, TlsFiles, channel_credentials

_log = logging.getLogger(__name__)

CHECK_EVERY_SECONDS = 5.0
# How long calls in flight on a replaced channel (a stream, say) may go on before it is closed.
RETIRE_GRACE_SECONDS = 60.0

Opener = Callable[[grpc.ChannelCredentials], grpc.aio.Channel]


class _CurrentChannelCallable:
    """A stub's callable for one method: each call goes over the owner's current channel."""

    __slots__ = ("_args", "_callable", "_channel", "_kind", "_kwargs", "_owner")

    def __init__(self, owner: RotatingChannel, kind: str, args: Any, kwargs: Any) -> None:
        self._owner = owner
        self._kind = kind
        self._args = args
        self._kwargs = kwargs
        self._channel: grpc.aio.Channel | None = None
        self._callable: Any = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        channel = self._owner.current()
        if channel is not self._channel:
            self._callable = getattr(channel, self._kind)(*self._args, **self._kwargs)
            self._channel = channel
        return self._callable(*args, **kwargs)


class RotatingChannel(grpc.aio.Channel):
    """A grpc.aio.Channel for generated stubs over channels opened with the current files."""

    def __init__(
        self,
        files: TlsFiles,
        open_with: Opener,
        check_every: float = CHECK_EVERY_SECONDS,
        retire_grace: float = RETIRE_GRACE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._files = files
        self._open_with = open_with
        self._retire_grace = retire_grace
        self._watch = RotationWatch(files, check_every, clock)
        self._channel = open_with(channel_credentials(files))
        self._retiring: set[asyncio.Task[None]] = set()
        self._closing = asyncio.Event()
        self._close_grace: float | None = None

    def current(self) -> grpc.aio.Channel:
        """The channel for a new call: a new one once the files have been rotated."""
        stamp = self._watch.rotated()
        if stamp is not None and not self._closing.is_set():
            self._replace(stamp)
        return self._channel

    def _replace(self, stamp: Stamp) -> None:
        try:
            credentials = channel_credentials(self._files)
        except (OSError, ValueError):
            # Half-rotated (a file missing, a key without its certificate yet): try next interval.
            _log.warning("client certificate files unreadable; keeping the current ones")
            return
        self._watch.accept(stamp)
        old, self._channel = self._channel, self._open_with(credentials)
        task = asyncio.get_running_loop().create_task(self._retire(old))
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)
        _log.info("client certificate files changed; new calls present the new certificate")

    async def _retire(self, channel: grpc.aio.Channel) -> None:
        """Closes a replaced channel after the grace period, or as this one is closed."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), self._retire_grace)
        await channel.close(self._close_grace)

    def unary_unary(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return _CurrentChannelCallable(self, "unary_unary", (method, *args), kwargs)

    def unary_stream(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return _CurrentChannelCallable(self, "unary_stream", (method, *args), kwargs)

    def stream_unary(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return _CurrentChannelCallable(self, "stream_unary", (method, *args), kwargs)

    def stream_stream(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return _CurrentChannelCallable(self, "stream_stream", (method, *args), kwargs)

    async def close(self, grace: float | None = None) -> None:
        """Closes the current channel and any replaced one still finishing its calls."""
        self._close_grace = grace
        self._closing.set()
        await asyncio.gather(self._channel.close(grace), *self._retiring)

    def get_state(self, try_to_connect: bool = False) -> grpc.ChannelConnectivity:
        return self.current().get_state(try_to_connect)

    async def wait_for_state_change(self, last_observed_state: grpc.ChannelConnectivity) -> None:
        await self.current().wait_for_state_change(last_observed_state)

    async def channel_ready(self) -> None:
        await self.current().channel_ready()

    async def __aenter__(self) -> RotatingChannel:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close(None)
