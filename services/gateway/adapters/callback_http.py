"""Posts signed callbacks to merchants over HTTP (HMAC-SHA256 with timestamp and nonce)."""

from __future__ import annotations

import time

import aiohttp

from gateway.adapters.http_spans import answered, failed, start_client_span, traced_headers
from paysuite.http_signing import new_nonce, sign

SIGNATURE_HEADER = "X-Paysuite-Signature"


class HttpCallbackSender:
    def __init__(self, session: aiohttp.ClientSession, timeout_seconds: float = 5.0) -> None:
        self._session = session
        self.timeout_seconds = timeout_seconds
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)

    async def send(self, url: str, secret: str, body: bytes) -> str | None:
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(secret.encode(), body, now=int(time.time()), nonce=new_nonce()),
        }
        span = start_client_span("POST", url)
        try:
            async with self._session.post(
                url, data=body, headers=traced_headers(span, headers), timeout=self._timeout
            ) as response:
                await response.read()
        except (TimeoutError, aiohttp.ClientError) as exc:
            failed(span, exc)
            return type(exc).__name__
        except BaseException as exc:
            failed(span, exc)
            raise
        answered(span, response.status)
        return None if 200 <= response.status < 300 else f"HTTP {response.status}"
