"""What the wallet channels share: signed calls over egress, bills fetched in the wallets' two
steps (where the file is, then the file, its SHA1 checked where the wallet names one) and signed
notifications."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar
from urllib.parse import urlsplit

import aiohttp
import orjson

from gateway.adapters.channels.banksim import ChannelUnavailable
from gateway.adapters.egress import CHANNEL_UNREACHABLE, EgressClient, NoRouteError
from gateway.domain.ports import ChannelAnswer, ChannelNotification, ChannelOutcome
from paysuite.http_signing import SignatureError, new_nonce, sign, verify

_log = logging.getLogger(__name__)

# Whatever of these a call raises, the channel gave no usable answer: only a query can tell.
NO_ANSWER = (TimeoutError, aiohttp.ClientError, SignatureError, ValueError, KeyError, TypeError)
DEFAULT_SUBJECT = "Paysuite order"
STATEMENT_CONTENT_TYPES = ("text/csv", "application/zip")


@dataclass(frozen=True, slots=True)
class Reply:
    """A verified answer: its HTTP status and JSON body ({} when there was none)."""

    status: int
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class BillLocation:
    """Where a wallet said its bill file can be downloaded, and the file's SHA1 (hex) where it
    names one."""

    url: str
    sha1: str = ""

    @classmethod
    def checked(cls, url: str, sha1: str = "") -> BillLocation:
        """ValueError for a URL that is not http(s) or a hash that is not a SHA1's."""
        if urlsplit(url).scheme not in ("http", "https"):
            raise ValueError("the bill's download URL is not http(s)")
        if sha1 and (len(sha1) != 40 or not all(c in "0123456789abcdefABCDEF" for c in sha1)):
            raise ValueError("the bill's hash is not a SHA1")
        return cls(url, sha1.lower())


@dataclass(frozen=True, slots=True)
class SignedNotification:
    """A notification whose signature checked out, with the nonce for replay tracking."""

    timestamp: int
    nonce: str
    notification: ChannelNotification


def text(data: Mapping[str, Any], key: str, limit: int = 64) -> str:
    """A required, non-empty string field of at most limit characters; ValueError otherwise."""
    value = data.get(key)
    if not isinstance(value, str) or not value or len(value) > limit:
        raise ValueError(f"{key}: missing or malformed")
    return value


class WalletChannel:
    """Base of the wallet adapters: subclasses name the signature header and read the protocol.

    The charge carries notify_url, where the wallet posts its decision later; answers and
    notifications are accepted only with a valid signature of the shared secret.
    """

    signature_header: ClassVar[str]
    # Whether the wallet wants a bill file's download signed as its API requests are.
    signs_bill_download: ClassVar[bool] = False

    def __init__(
        self,
        name: str,
        base_url: str,
        secret: bytes,
        merchant_id: str,
        notify_url: str,
        *,
        egress: EgressClient,
        timeout_seconds: float = 10.0,
        confirm_by_query: bool = False,
    ) -> None:
        self.name = name
        self.confirm_by_query = confirm_by_query
        self._base_url = base_url.rstrip("/")
        self._secret = secret
        self._merchant_id = merchant_id
        self._notify_url = notify_url
        self._egress = egress
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)

    async def _send(
        self,
        method: str,
        path: str,
        payload: dict[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> tuple[int, str, bytes]:
        """(status, content type, body) of a signed request whose answer's signature holds."""
        body = b"" if payload is None else orjson.dumps(payload)
        headers = {
            "Content-Type": "application/json",
            self.signature_header: sign(
                self._secret, body, now=int(time.time()), nonce=new_nonce()
            ),
        }
        status, answer_headers, raw = await self._egress.request(
            self.name,
            method,
            f"{self._base_url}{path}",
            data=body or None,
            params=params,
            headers=headers,
            timeout=self._timeout,
        )
        signature = answer_headers.get(self.signature_header, "")
        verify(self._secret, raw, signature, now=int(time.time()))
        return status, answer_headers.get("Content-Type", ""), raw

    async def _call(
        self,
        method: str,
        path: str,
        payload: dict[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> Reply:
        status, _, raw = await self._send(method, path, payload, params)
        body = orjson.loads(raw) if raw else {}
        if not isinstance(body, dict):
            raise ValueError("the answer is not a JSON object")
        return Reply(status, body)

    def _no_answer(self, operation: str, reference: str, exc: BaseException) -> ChannelAnswer:
        if operation == "charge" and isinstance(exc, NoRouteError):
            return ChannelAnswer(ChannelOutcome.NOT_SENT, error_code=CHANNEL_UNREACHABLE)
        _log.warning(
            "channel gave no usable answer",
            extra={
                "channel": self.name,
                "operation": operation,
                "reference": reference,
                "error": type(exc).__name__,
            },
        )
        return ChannelAnswer(ChannelOutcome.UNKNOWN, error_code=type(exc).__name__)

    async def statement(self, day: date) -> AsyncIterator[bytes]:
        """The day's bill file as the wallet sent it: asked where it is, then downloaded from
        there, checked to be a bill (CSV, or Alipay's zip of GBK CSV files) and, where the
        wallet named its SHA1, to be that file."""
        try:
            located = await self._bill_location(day)
            status, content_type, raw = await self._download(located.url)
        except NO_ANSWER as exc:
            raise ChannelUnavailable(
                "the channel did not deliver the statement", metadata={"error": type(exc).__name__}
            ) from exc
        if status != 200 or not content_type.startswith(STATEMENT_CONTENT_TYPES):
            raise ChannelUnavailable(
                "the channel refused the statement download",
                metadata={"http_status": str(status)},
            )
        if located.sha1 and hashlib.sha1(raw, usedforsecurity=False).hexdigest() != located.sha1:
            raise ChannelUnavailable(
                "the statement file downloaded is not the one the channel named (SHA1 differs)",
                metadata={"hash_type": "SHA1"},
            )
        chunk = 256 * 1024
        for start in range(0, len(raw), chunk):
            yield raw[start : start + chunk]

    async def _bill_location(self, day: date) -> BillLocation:
        """Where the wallet says the day's bill is; ChannelUnavailable when it will not say."""
        raise NotImplementedError

    async def _download(self, url: str) -> tuple[int, str, bytes]:
        """(status, content type, body) of the file at a URL the wallet gave: a file server's
        answer, unsigned."""
        headers = {}
        if self.signs_bill_download:
            headers[self.signature_header] = sign(
                self._secret, b"", now=int(time.time()), nonce=new_nonce()
            )
        status, answer_headers, raw = await self._egress.request(
            self.name, "GET", url, headers=headers, timeout=self._timeout
        )
        return status, answer_headers.get("Content-Type", ""), raw

    def read_notification(
        self, body: bytes, headers: Mapping[str, str], now: int
    ) -> SignedNotification:
        """The notification if signed with our secret; raises SignatureError or ValueError."""
        signature = headers.get(self.signature_header, "")
        timestamp, nonce = verify(self._secret, body, signature, now=now)
        return SignedNotification(timestamp, nonce, self._notification(body))

    def _notification(self, body: bytes) -> ChannelNotification:
        raise NotImplementedError

    def notify_reply(self, ok: bool) -> tuple[bytes, str]:
        """The body (and its content type) that tells the wallet we took it, or not."""
        raise NotImplementedError
