"""The bank quick-pay channel: signed JSON over HTTP, answers verified before they are believed."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import aiohttp
from opentelemetry import trace

from gateway.domain.ports import ChannelAnswer, ChannelCharge, ChannelOutcome
from paysuite.errors import Unavailable
from paysuite.http_signing import SIGNATURE_HEADER, SignatureError, new_nonce, sign, verify

_log = logging.getLogger(__name__)

_OUTCOMES = {
    "SUCCESS": ChannelOutcome.SUCCEEDED,
    "FAIL": ChannelOutcome.FAILED,
    "PROCESSING": ChannelOutcome.PENDING,
}


class ChannelUnavailable(Unavailable):
    """The channel gave no usable answer to a statement download."""

    reason = "CHANNEL_UNAVAILABLE"


class BankQuickPayChannel:
    """Adapter for the bank channel's quick-pay API (simulated by `channelsim`)."""

    def __init__(
        self,
        name: str,
        base_url: str,
        secret: bytes,
        merchant_id: str,
        session: aiohttp.ClientSession,
        timeout_seconds: float = 10.0,
    ) -> None:
        self.name = name
        self._base_url = base_url.rstrip("/")
        self._secret = secret
        self._merchant_id = merchant_id
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)

    def _signed_headers(self, body: bytes) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(self._secret, body, now=int(time.time()), nonce=new_nonce()),
        }

    async def _call(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps(payload, separators=(",", ":")).encode()
        async with self._session.post(
            f"{self._base_url}{path}",
            data=body,
            headers=self._signed_headers(body),
            timeout=self._timeout,
        ) as response:
            raw = await response.read()
            verify(
                self._secret, raw, response.headers.get(SIGNATURE_HEADER, ""), now=int(time.time())
            )
            answer: dict[str, Any] = json.loads(raw)
            answer["_http_status"] = response.status
            return answer

    def _answer(self, answer: dict[str, Any]) -> ChannelAnswer:
        outcome = _OUTCOMES.get(str(answer.get("code")), ChannelOutcome.UNKNOWN)
        if answer["_http_status"] != 200:
            outcome = ChannelOutcome.UNKNOWN
        return ChannelAnswer(
            outcome=outcome,
            channel_transaction_id=str(answer.get("trade_no") or ""),
            fee_minor_units=int(answer.get("fee") or 0),
            error_code=str(answer.get("err_code") or answer.get("code") or ""),
        )

    async def charge(self, charge: ChannelCharge) -> ChannelAnswer:
        span = trace.get_current_span()
        span.set_attribute("paysuite.channel", self.name)
        payload = {
            "mch_id": self._merchant_id,
            "out_trade_no": charge.payment_id,
            "agreement_no": charge.agreement_no,
            "amount": charge.amount.minor_units,
            "currency": charge.amount.currency,
            "subject": charge.subject,
        }
        try:
            answer = self._answer(await self._call("/api/quickpay/pay", payload))
        except (TimeoutError, aiohttp.ClientError, SignatureError, ValueError) as exc:
            # The debit may or may not have happened: only a query can tell.
            _log.warning(
                "channel gave no usable answer",
                extra={
                    "channel": self.name,
                    "payment_id": charge.payment_id,
                    "error": type(exc).__name__,
                },
            )
            return ChannelAnswer(ChannelOutcome.UNKNOWN, error_code=type(exc).__name__)
        return answer

    async def query(self, payment_id: str) -> ChannelAnswer:
        payload = {"mch_id": self._merchant_id, "out_trade_no": payment_id}
        try:
            answer = await self._call("/api/quickpay/query", payload)
        except (TimeoutError, aiohttp.ClientError, SignatureError, ValueError) as exc:
            return ChannelAnswer(ChannelOutcome.UNKNOWN, error_code=type(exc).__name__)
        if answer.get("code") == "ORDER_NOT_EXIST":
            return ChannelAnswer(ChannelOutcome.FAILED, error_code="ORDER_NOT_EXIST")
        return self._answer(answer)

    async def statement(self, day: date) -> AsyncIterator[bytes]:
        """The bank's statement file for the day, as sent, after checking its signature."""
        url = f"{self._base_url}/api/statements/{day.isoformat()}"
        try:
            async with self._session.get(
                url,
                params={"mch_id": self._merchant_id},
                headers=self._signed_headers(b""),
                timeout=self._timeout,
            ) as response:
                raw = await response.read()
                verify(
                    self._secret,
                    raw,
                    response.headers.get(SIGNATURE_HEADER, ""),
                    now=int(time.time()),
                )
                if response.status != 200:
                    raise ChannelUnavailable(
                        "the channel refused the statement download",
                        metadata={"http_status": str(response.status)},
                    )
        except (TimeoutError, aiohttp.ClientError, SignatureError) as exc:
            raise ChannelUnavailable(
                "the channel did not deliver the statement", metadata={"error": type(exc).__name__}
            ) from exc
        chunk = 256 * 1024
        for start in range(0, len(raw), chunk):
            yield raw[start : start + chunk]
