"""Asynchronous notifications to the merchant: signed, late, twice or never, retried on failure."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from paysuite.http_signing import new_nonce, sign
from walletsim.faults import Faults
from walletsim.store import NotifyPlan

_log = logging.getLogger(__name__)

_LOOPBACK_NAMES = frozenset({"localhost"})


def loopback_url(url: str, allowed_hosts: frozenset[str] = frozenset()) -> bool:
    """True for an http(s) URL on this machine (or on a host the deployment named, as on
    Kubernetes): the only notify targets the simulator accepts."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        _ = parts.port  # raises ValueError on a malformed port
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not host:
        return False
    if host in _LOOPBACK_NAMES or host.lower() in allowed_hosts:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Message:
    """One notification's content; every attempt sends these bytes, freshly signed."""

    notify_id: str
    out_trade_no: str
    status: str  # the flavour's word for the trade status it announces
    url: str
    body: bytes = field(repr=False)
    content_type: str


@dataclass
class Delivery:
    """A notification as sent (or dropped), with every attempt's result; no body kept."""

    notify_id: str
    out_trade_no: str
    status: str
    duplicate: bool = False
    dropped: bool = False
    acknowledged: bool = False
    gave_up: bool = False
    attempts: list[dict[str, Any]] = field(default_factory=list)

    def view(self) -> dict[str, Any]:
        return {
            "notify_id": self.notify_id,
            "out_trade_no": self.out_trade_no,
            "status": self.status,
            "duplicate": self.duplicate,
            "dropped": self.dropped,
            "acknowledged": self.acknowledged,
            "gave_up": self.gave_up,
            "attempts": list(self.attempts),
        }


@dataclass(frozen=True)
class NotifyStyle:
    """What differs between wallets: the signature header, how an ack looks, the retry timing.

    retry_steps are the waits before each retry, in units of notify_backoff_ms, as the real
    wallet spaces them (Alipay: 4m 10m 10m 1h 2h 6h 15h; WeChat Pay: 15s 15s 30s 3m ...).
    """

    signature_header: str
    acknowledged: Callable[[int, bytes], bool]
    retry_steps: Sequence[float]


class Notifier:
    """Sends each message in its own task; close() cancels what is still under way."""

    def __init__(
        self,
        secret: bytes,
        style: NotifyStyle,
        channel: str,
        allowed_hosts: frozenset[str] = frozenset(),
    ) -> None:
        self._secret = secret
        self.allowed_hosts = allowed_hosts
        self._style = style
        self._channel = channel
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.deliveries: list[Delivery] = []

    async def start(self) -> None:
        self._session = aiohttp.ClientSession()

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    def send(self, message: Message, plan: NotifyPlan, faults: Faults) -> None:
        """Delivers in the background with the retry knobs of `faults` (as they were now)."""
        task = asyncio.create_task(self._run(message, plan, faults), name=f"{self._channel}-notify")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _delivery(self, message: Message, *, duplicate: bool = False) -> Delivery:
        delivery = Delivery(message.notify_id, message.out_trade_no, message.status, duplicate)
        self.deliveries.append(delivery)
        return delivery

    async def _run(self, message: Message, plan: NotifyPlan, faults: Faults) -> None:
        if plan.drop:
            self._delivery(message).dropped = True
            _log.info("notification dropped", extra=_fields(message))
            return
        if plan.delay_ms:
            await asyncio.sleep(plan.delay_ms / 1000)
        await self._deliver(message, self._delivery(message), faults)
        copies = max(plan.copies - 1, int(plan.duplicate))
        await asyncio.gather(
            *(
                self._deliver(message, self._delivery(message, duplicate=True), faults)
                for _ in range(copies)
            )
        )

    def _limit(self, faults: Faults) -> int:
        real = len(self._style.retry_steps) + 1
        return min(faults.notify_max_attempts, real) if faults.notify_max_attempts else real

    async def _deliver(self, message: Message, delivery: Delivery, faults: Faults) -> None:
        # Checked at pay time too; never sent elsewhere.
        if not loopback_url(message.url, self.allowed_hosts):
            delivery.gave_up = True
            return
        number = 0
        while True:
            number += 1
            delivery.attempts.append(await self._attempt(message, faults))
            if delivery.attempts[-1]["acknowledged"]:
                delivery.acknowledged = True
                _log.info("notification acknowledged", extra=_fields(message, number))
                return
            if number >= self._limit(faults):
                delivery.gave_up = True
                _log.warning("notification given up", extra=_fields(message, number))
                return
            step = self._style.retry_steps[number - 1]
            await asyncio.sleep(faults.notify_backoff_ms * step / 1000)

    async def _attempt(self, message: Message, faults: Faults) -> dict[str, Any]:
        assert self._session is not None, "notifier not started"
        headers = {
            "Content-Type": message.content_type,
            self._style.signature_header: sign(
                self._secret, message.body, now=int(time.time()), nonce=new_nonce()
            ),
        }
        record: dict[str, Any] = {"at": time.time(), "http_status": None, "error": ""}
        try:
            async with self._session.post(
                message.url,
                data=message.body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=faults.notify_timeout_ms / 1000),
                allow_redirects=False,
            ) as response:
                answer = await response.read()
                record["http_status"] = response.status
                record["acknowledged"] = self._style.acknowledged(response.status, answer)
        except (TimeoutError, aiohttp.ClientError) as exc:
            record["error"] = type(exc).__name__
            record["acknowledged"] = False
        return record


def _fields(message: Message, attempts: int = 0) -> dict[str, Any]:
    return {
        "notify_id": message.notify_id,
        "out_trade_no": message.out_trade_no,
        "code": message.status,
        "attempts": attempts,
    }
