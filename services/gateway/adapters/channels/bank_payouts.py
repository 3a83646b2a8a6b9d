"""The bank channel's payouts (代付): pay out, query, the day's returns; signed like its charges.

A payout the bank may have received but did not answer is UNKNOWN (only a query can tell); one
no route carried is NOT_SENT; one the bank refused as malformed (400 PARAM_ERROR) was never
taken. A payout paid and then sent back by the payee's bank answers RETURNED: paid first, so
SUCCEEDED with its return.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import aiohttp

from gateway.adapters.egress import CHANNEL_UNREACHABLE, NoRouteError
from gateway.domain.ports import ChannelOutcome, PayoutAnswer, PayoutInstruction, PayoutReturn
from paysuite.errors import Unavailable
from paysuite.http_signing import SignatureError

_log = logging.getLogger(__name__)

_BANK_ZONE = timezone(timedelta(hours=8), "Asia/Shanghai")
_BANK_TIME = "%Y-%m-%d %H:%M:%S"
_OUTCOMES = {
    "SUCCESS": ChannelOutcome.SUCCEEDED,
    "RETURNED": ChannelOutcome.SUCCEEDED,
    "FAIL": ChannelOutcome.FAILED,
    "PROCESSING": ChannelOutcome.PENDING,
}
# What a bank call can fail with after it may have reached the bank.
_NO_ANSWER = (TimeoutError, aiohttp.ClientError, SignatureError, ValueError, TypeError, KeyError)


def _bank_time(text: object) -> datetime:
    try:
        return datetime.strptime(str(text), _BANK_TIME).replace(tzinfo=_BANK_ZONE)
    except ValueError:
        return datetime.now(UTC)


def _returned(answer: dict[str, Any]) -> PayoutReturn:
    return PayoutReturn(
        str(answer["out_payout_no"]),
        str(answer.get("return_reason") or "RETURNED")[:64],
        _bank_time(answer.get("return_time")),
    )


def _answer(answer: dict[str, Any]) -> PayoutAnswer:
    code = str(answer.get("code") or "")
    if answer["_http_status"] == 400 and code == "PARAM_ERROR":
        return PayoutAnswer(ChannelOutcome.FAILED, error_code=code)
    if answer["_http_status"] != 200:
        return PayoutAnswer(ChannelOutcome.UNKNOWN, error_code=code[:64])
    return PayoutAnswer(
        outcome=_OUTCOMES.get(code, ChannelOutcome.UNKNOWN),
        channel_transaction_id=str(answer.get("payout_no") or "")[:64],
        fee_minor_units=int(answer.get("fee") or 0),
        error_code=str(answer.get("err_code") or "")[:64],
        returned=_returned(answer) if code == "RETURNED" else None,
    )


class BankPayouts(ABC):
    """The payout half of the bank adapter (PayoutChannel); it answers UNKNOWN rather than
    raise. The adapter provides the signed call."""

    name: str
    _merchant_id: str

    @abstractmethod
    async def _call(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        """POSTs the signed payload; the bank's answer, its signature checked, with
        "_http_status" added."""

    async def payout(self, instruction: PayoutInstruction) -> PayoutAnswer:
        payload: dict[str, Any] = {
            "mch_id": self._merchant_id,
            "out_payout_no": instruction.payout_id,
            "amount": instruction.amount.minor_units,
            "currency": instruction.amount.currency,
            "remark": instruction.remark,
        }
        if instruction.agreement_no:
            payload["agreement_no"] = instruction.agreement_no
        else:
            payload |= {
                "account_no": instruction.account_no,
                "account_name": instruction.account_name,
            }
        try:
            return _answer(await self._call("/api/payout/pay", payload))
        except NoRouteError:
            return PayoutAnswer(ChannelOutcome.NOT_SENT, error_code=CHANNEL_UNREACHABLE)
        except _NO_ANSWER as exc:
            # Paid or not, only a query can tell.
            _log.warning(
                "bank gave no usable payout answer",
                extra={
                    "channel": self.name,
                    "payout_id": instruction.payout_id,
                    "error": type(exc).__name__,
                },
            )
            return PayoutAnswer(ChannelOutcome.UNKNOWN, error_code=type(exc).__name__)

    async def query_payout(self, payout_id: str) -> PayoutAnswer:
        payload = {"mch_id": self._merchant_id, "out_payout_no": payout_id}
        try:
            answer = await self._call("/api/payout/query", payload)
            if answer.get("code") == "ORDER_NOT_EXIST":
                return PayoutAnswer(ChannelOutcome.FAILED, error_code="ORDER_NOT_EXIST")
            return _answer(answer)
        except _NO_ANSWER as exc:
            return PayoutAnswer(ChannelOutcome.UNKNOWN, error_code=type(exc).__name__)

    async def payout_returns(self, day: date) -> list[PayoutReturn]:
        payload = {"mch_id": self._merchant_id, "date": day.isoformat()}
        try:
            answer = await self._call("/api/payout/returns", payload)
            if answer["_http_status"] != 200:
                raise Unavailable(
                    "the bank refused the list of returns",
                    metadata={"code": str(answer.get("code", ""))[:32]},
                )
            return [_returned(item) for item in answer["returns"]]
        except _NO_ANSWER as exc:
            raise Unavailable(
                "the bank gave no list of returns", metadata={"error": type(exc).__name__}
            ) from exc
