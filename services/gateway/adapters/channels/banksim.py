"""The bank channel: quick-pay, card verification and payouts, signed JSON over HTTP, answers
verified."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import aiohttp
import orjson
from opentelemetry import trace

from gateway.adapters.channels.bank_payouts import BankPayouts
from gateway.adapters.egress import CHANNEL_UNREACHABLE, EgressClient, NoRouteError
from gateway.domain.ports import (
    CardCheck,
    CardVerification,
    ChannelAnswer,
    ChannelCharge,
    ChannelOutcome,
    VerifyElement,
    VerifyMethod,
    VerifyOutcome,
)
from paysuite.errors import AccountNotFound, Unavailable
from paysuite.http_signing import SIGNATURE_HEADER, SignatureError, new_nonce, sign, verify
from paysuite.money import Money
from paysuite.runtime import span_attributes as attrs

_log = logging.getLogger(__name__)

_OUTCOMES = {
    "SUCCESS": ChannelOutcome.SUCCEEDED,
    "FAIL": ChannelOutcome.FAILED,
    "PROCESSING": ChannelOutcome.PENDING,
}

_VERIFY_OUTCOMES = {
    "MATCH": VerifyOutcome.MATCH,
    "MISMATCH": VerifyOutcome.MISMATCH,
    "NO_RECORD": VerifyOutcome.NO_RECORD,
    "CARD_STATE": VerifyOutcome.CARD_STATE,
    "CANNOT_VERIFY": VerifyOutcome.CANNOT_VERIFY,
}
_ELEMENTS = {
    "NAME": VerifyElement.NAME,
    "ID_NO": VerifyElement.ID_NUMBER,
    "MOBILE": VerifyElement.PHONE,
}
_HTTP_TOO_MANY_REQUESTS = 429


def _text(answer: dict[str, Any], key: str, limit: int) -> str:
    return str(answer.get(key) or "")[:limit]


def _verification(answer: dict[str, Any]) -> CardVerification:
    """The bank's verify4 answer in our terms; anything unexpected is CANNOT_VERIFY."""
    if answer["_http_status"] == _HTTP_TOO_MANY_REQUESTS:
        return CardVerification(VerifyOutcome.RATE_LIMITED)
    if answer["_http_status"] != 200 or answer.get("code") != "SUCCESS":
        return CardVerification(VerifyOutcome.CANNOT_VERIFY)
    outcome = _VERIFY_OUTCOMES.get(str(answer.get("result")), VerifyOutcome.CANNOT_VERIFY)
    mismatch = answer.get("mismatch")
    mismatched: tuple[VerifyElement, ...] = ()
    if outcome is VerifyOutcome.MISMATCH and isinstance(mismatch, list):
        named = [_ELEMENTS[e] for e in mismatch if isinstance(e, str) and e in _ELEMENTS]
        mismatched = tuple(dict.fromkeys(named))
    return CardVerification(
        outcome=outcome,
        mismatched=mismatched,
        card_state=_text(answer, "card_state", 16) if outcome is VerifyOutcome.CARD_STATE else "",
        reference=_text(answer, "verify_no", 64),
        bank_code=_text(answer, "bank_code", 16),
        agreement_no=_text(answer, "agreement_no", 64) if outcome is VerifyOutcome.MATCH else "",
    )


class ChannelUnavailable(Unavailable):
    """The channel gave no usable answer to a statement download."""

    reason = "CHANNEL_UNAVAILABLE"


def _code(raw: bytes) -> str:
    """The bank's error code in an answer, if it has one."""
    try:
        answer = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return ""
    return str(answer.get("code") or "") if isinstance(answer, dict) else ""


class BankQuickPayChannel(BankPayouts):
    """Adapter for the bank channel's quick-pay and payout APIs (simulated by `channelsim`)."""

    def __init__(
        self,
        name: str,
        base_url: str,
        secret: bytes,
        merchant_id: str,
        session: aiohttp.ClientSession,
        timeout_seconds: float = 10.0,
        *,
        egress: EgressClient | None = None,
        confirm_by_query: bool = False,
    ) -> None:
        self.name = name
        self._base_url = base_url.rstrip("/")
        self._secret = secret
        self._merchant_id = merchant_id
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self.confirm_by_query = confirm_by_query
        # Every request goes out over an egress route: one direct route unless given routes.
        self._egress = egress or EgressClient.direct(session, [name])

    def _signed_headers(self, body: bytes) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(self._secret, body, now=int(time.time()), nonce=new_nonce()),
        }

    async def _call(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        body = orjson.dumps(payload)
        status, headers, raw = await self._egress.request(
            self.name,
            "POST",
            f"{self._base_url}{path}",
            data=body,
            headers=self._signed_headers(body),
            timeout=self._timeout,
        )
        verify(self._secret, raw, headers.get(SIGNATURE_HEADER, ""), now=int(time.time()))
        answer: dict[str, Any] = orjson.loads(raw)
        answer["_http_status"] = status
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
        span.set_attribute(attrs.CHANNEL, self.name)
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
        except NoRouteError:
            return ChannelAnswer(ChannelOutcome.NOT_SENT, error_code=CHANNEL_UNREACHABLE)
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

    async def refund(self, refund_id: str, payment_id: str, amount: Money) -> ChannelAnswer:
        """Refunds at the bank, idempotent by refund_id (the bank's out_refund_no)."""
        payload = {
            "mch_id": self._merchant_id,
            "out_trade_no": payment_id,
            "out_refund_no": refund_id,
            "amount": amount.minor_units,
            "currency": amount.currency,
        }
        try:
            answer = await self._call("/api/quickpay/refund", payload)
        except (TimeoutError, aiohttp.ClientError, SignatureError, ValueError) as exc:
            return ChannelAnswer(ChannelOutcome.UNKNOWN, error_code=type(exc).__name__)
        if answer["_http_status"] != 200:
            return ChannelAnswer(ChannelOutcome.UNKNOWN, error_code=str(answer.get("code", "")))
        outcome = {"SUCCESS": ChannelOutcome.SUCCEEDED, "FAIL": ChannelOutcome.FAILED}.get(
            str(answer.get("code")), ChannelOutcome.UNKNOWN
        )
        return ChannelAnswer(
            outcome,
            channel_transaction_id=str(answer.get("refund_no") or ""),
            error_code=str(answer.get("err_code") or ""),
        )

    async def verify_card(self, check: CardCheck) -> CardVerification:
        """Verifies at the bank (four or three elements) or at the citizen register (name and
        ID); the request id is the provider's req_no. Logs no elements."""
        payload: dict[str, object] = {
            "mch_id": self._merchant_id,
            "req_no": check.request_id,
            "name": check.name,
            "id_no": check.id_number,
        }
        match check.method:
            case VerifyMethod.FOUR_ELEMENTS:
                path = "/api/auth/verify4"
                payload |= {
                    "card_no": check.card_number,
                    "mobile": check.phone,
                    "sign": check.sign_agreement,
                }
            case VerifyMethod.THREE_ELEMENTS:
                path = "/api/auth/verify3"
                payload |= {"card_no": check.card_number}
            case VerifyMethod.NAME_ID:
                path = "/api/idcheck/verify2"
        try:
            answer = await self._call(path, payload)
            verification = _verification(answer)
        except (TimeoutError, aiohttp.ClientError, SignatureError, ValueError, TypeError) as exc:
            _log.warning(
                "channel gave no usable verification",
                extra={
                    "channel": self.name,
                    "request_id": check.request_id,
                    "error": type(exc).__name__,
                },
            )
            return CardVerification(VerifyOutcome.CANNOT_VERIFY)
        if answer["_http_status"] != 200:
            _log.warning(
                "channel refused a verification",
                extra={
                    "channel": self.name,
                    "request_id": check.request_id,
                    "http_status": answer["_http_status"],
                    "code": _text(answer, "code", 32),
                },
            )
        return verification

    async def statement(self, day: date) -> AsyncIterator[bytes]:
        """The bank's statement file for the day, as sent, after checking its signature."""
        url = f"{self._base_url}/api/statements/{day.isoformat()}"
        async for chunk in self._download(url, {"mch_id": self._merchant_id}):
            yield chunk

    async def account_statement(self, account_number: str, day: date) -> AsyncIterator[bytes]:
        """An account's camt.053 of the day (the reserve account's), as sent, after checking
        its signature."""
        url = f"{self._base_url}/api/accounts/{account_number}/statements/{day.isoformat()}"
        async for chunk in self._download(url, {}):
            yield chunk

    async def _download(self, url: str, params: dict[str, str]) -> AsyncIterator[bytes]:
        """A signed GET's file in chunks, its answer's signature checked; an account the bank
        does not keep is NOT_FOUND, any other refusal or no answer CHANNEL_UNAVAILABLE."""
        try:
            status, headers, raw = await self._egress.request(
                self.name,
                "GET",
                url,
                params=params,
                headers=self._signed_headers(b""),
                timeout=self._timeout,
            )
            verify(self._secret, raw, headers.get(SIGNATURE_HEADER, ""), now=int(time.time()))
        except (TimeoutError, aiohttp.ClientError, SignatureError) as exc:
            raise ChannelUnavailable(
                "the channel did not deliver the statement", metadata={"error": type(exc).__name__}
            ) from exc
        if status == 404 and _code(raw) == "ACCOUNT_NOT_EXIST":
            raise AccountNotFound("the bank keeps no such account")
        if status != 200:
            raise ChannelUnavailable(
                "the channel refused the statement download",
                metadata={"http_status": str(status)},
            )
        chunk = 256 * 1024
        for start in range(0, len(raw), chunk):
            yield raw[start : start + chunk]
