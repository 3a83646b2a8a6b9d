"""The WeChat-Pay-style wallet (simulated by `walletsim`): REST paths, HTTP statuses, fen."""

from __future__ import annotations

import json
from datetime import date
from typing import Any
from urllib.parse import quote

from gateway.adapters.channels.banksim import ChannelUnavailable
from gateway.adapters.channels.walletsim_common import (
    DEFAULT_SUBJECT,
    NO_ANSWER,
    BillLocation,
    Reply,
    WalletChannel,
    text,
)
from gateway.domain.ports import (
    ChannelAnswer,
    ChannelCharge,
    ChannelNotification,
    ChannelOutcome,
)
from paysuite.money import Money

_TRADE_STATE = {
    "SUCCESS": ChannelOutcome.SUCCEEDED,
    "REFUND": ChannelOutcome.SUCCEEDED,  # paid, then (partly) refunded
    "CLOSED": ChannelOutcome.FAILED,
    "REVOKED": ChannelOutcome.FAILED,
    "PAYERROR": ChannelOutcome.FAILED,
    "NOTPAY": ChannelOutcome.PENDING,
    "USERPAYING": ChannelOutcome.PENDING,
}
# Error codes that say for certain nothing was charged (others, and 5xx: ask again).
_DECLINED = frozenset(
    {"NOT_ENOUGH", "ORDER_CLOSED", "PARAM_ERROR", "MCH_NOT_EXISTS", "SIGN_ERROR", "TRADE_ERROR"}
)
_REFUND_REFUSED = frozenset({"INVALID_REQUEST", "RESOURCE_NOT_EXISTS", "PARAM_ERROR"})
_REFUND_STATUS = {
    "SUCCESS": ChannelOutcome.SUCCEEDED,
    "PROCESSING": ChannelOutcome.PENDING,
    "ABNORMAL": ChannelOutcome.FAILED,
    "CLOSED": ChannelOutcome.FAILED,
}


def _transaction_answer(transaction: dict[str, Any]) -> ChannelAnswer:
    state = str(transaction.get("trade_state") or "")
    outcome = _TRADE_STATE.get(state, ChannelOutcome.UNKNOWN)
    return ChannelAnswer(
        outcome,
        channel_transaction_id=str(transaction.get("transaction_id") or "")[:64],
        error_code=state if outcome is not ChannelOutcome.SUCCEEDED else "",
    )


def _code(reply: Reply) -> str:
    return str(reply.body.get("code") or f"HTTP_{reply.status}")


class WechatChannel(WalletChannel):
    """Adapter for the WeChat-Pay-style wallet; a charge is a payment-code payment (codepay).

    WeChat Pay notifies successes only: a payment the buyer failed to pay is learnt by query.
    """

    signature_header = "Wechatpay-Signature"
    signs_bill_download = True  # API v3: a bill file's download is signed as any request

    def _order_path(self, payment_id: str) -> str:
        return f"/v3/pay/transactions/out-trade-no/{quote(payment_id, safe='')}"

    async def charge(self, charge: ChannelCharge) -> ChannelAnswer:
        payload = {
            "mchid": self._merchant_id,
            "out_trade_no": charge.payment_id,
            "description": charge.subject or DEFAULT_SUBJECT,
            "notify_url": self._notify_url,
            "amount": {"total": charge.amount.minor_units, "currency": charge.amount.currency},
        }
        try:
            reply = await self._call("POST", "/v3/pay/transactions/codepay", payload)
        except NO_ANSWER as exc:
            return self._no_answer("charge", charge.payment_id, exc)
        if reply.status == 200:
            return _transaction_answer(reply.body)
        if 400 <= reply.status < 500 and _code(reply) in _DECLINED:
            return ChannelAnswer(ChannelOutcome.FAILED, error_code=_code(reply))
        return ChannelAnswer(ChannelOutcome.UNKNOWN, error_code=_code(reply))

    async def _query(self, payment_id: str) -> Reply:
        return await self._call(
            "GET", self._order_path(payment_id), params={"mchid": self._merchant_id}
        )

    async def query(self, payment_id: str) -> ChannelAnswer:
        try:
            reply = await self._query(payment_id)
        except NO_ANSWER as exc:
            return self._no_answer("query", payment_id, exc)
        if reply.status == 200:
            return _transaction_answer(reply.body)
        if reply.status == 404 and _code(reply) == "ORDER_NOT_EXIST":
            return ChannelAnswer(ChannelOutcome.FAILED, error_code="ORDER_NOT_EXIST")
        return ChannelAnswer(ChannelOutcome.UNKNOWN, error_code=_code(reply))

    async def close(self, payment_id: str) -> ChannelAnswer:
        payload = {"mchid": self._merchant_id}
        try:
            reply = await self._call("POST", f"{self._order_path(payment_id)}/close", payload)
        except NO_ANSWER as exc:
            return self._no_answer("close", payment_id, exc)
        if reply.status == 204:
            return ChannelAnswer(ChannelOutcome.FAILED, error_code="CLOSED")
        if reply.status == 404 and _code(reply) == "ORDER_NOT_EXIST":
            return ChannelAnswer(ChannelOutcome.FAILED, error_code="ORDER_NOT_EXIST")
        # ORDERPAID: paid meanwhile; the caller asks again to learn how.
        return ChannelAnswer(ChannelOutcome.UNKNOWN, error_code=_code(reply))

    async def refund(self, refund_id: str, payment_id: str, amount: Money) -> ChannelAnswer:
        """Refunds by out_refund_no = refund_id; WeChat Pay wants the order's total too, so
        the order is read first."""
        try:
            order = await self._query(payment_id)
            if order.status != 200:
                return ChannelAnswer(ChannelOutcome.UNKNOWN, error_code=_code(order))
            total = order.body["amount"]["total"]
            payload = {
                "out_trade_no": payment_id,
                "out_refund_no": refund_id,
                "amount": {"refund": amount.minor_units, "total": total, "currency": "CNY"},
            }
            reply = await self._call("POST", "/v3/refund/domestic/refunds", payload)
        except NO_ANSWER as exc:
            return self._no_answer("refund", refund_id, exc)
        if reply.status == 200:
            status = str(reply.body.get("status") or "")
            return ChannelAnswer(
                _REFUND_STATUS.get(status, ChannelOutcome.UNKNOWN),
                channel_transaction_id=str(reply.body.get("refund_id") or "")[:64],
                error_code="" if status == "SUCCESS" else status,
            )
        if 400 <= reply.status < 500 and _code(reply) in _REFUND_REFUSED:
            return ChannelAnswer(ChannelOutcome.FAILED, error_code=_code(reply))
        return ChannelAnswer(ChannelOutcome.UNKNOWN, error_code=_code(reply))

    async def _bill_location(self, day: date) -> BillLocation:
        """GET /v3/bill/tradebill (type ALL): the file's download_url and its SHA1."""
        params = {"bill_date": day.isoformat(), "mchid": self._merchant_id, "bill_type": "ALL"}
        reply = await self._call("GET", "/v3/bill/tradebill", params=params)
        if reply.status != 200:
            raise ChannelUnavailable(
                "the channel refused the statement download",
                metadata={"http_status": str(reply.status), "code": _code(reply)},
            )
        if reply.body.get("hash_type") != "SHA1":
            raise ValueError("hash_type: not SHA1")
        return BillLocation.checked(
            text(reply.body, "download_url", 2048), text(reply.body, "hash_value", 40)
        )

    def _notification(self, body: bytes) -> ChannelNotification:
        """TRANSACTION.* with the transaction in the clear; another merchant's is refused."""
        event = json.loads(body)
        if not isinstance(event, dict) or event.get("resource_type") != "plain-resource":
            raise ValueError("not a notification this adapter can read")
        transaction = event.get("resource")
        if not isinstance(transaction, dict) or transaction.get("mchid") != self._merchant_id:
            raise ValueError("mchid is not ours")
        amount = transaction.get("amount")
        if not isinstance(amount, dict) or type(amount.get("total")) is not int:
            raise ValueError("amount.total: missing or malformed")
        return ChannelNotification(
            notification_id=text(event, "id", 128),
            payment_id=text(transaction, "out_trade_no"),
            amount=Money(str(amount.get("currency") or "CNY"), amount["total"]),
            answer=_transaction_answer(transaction),
        )

    def notify_reply(self, ok: bool) -> tuple[bytes, str]:
        """WeChat Pay takes 200/204 as received; a failure carries code FAIL and is retried."""
        body = {"code": "SUCCESS", "message": "成功"} if ok else {"code": "FAIL", "message": "失败"}
        return json.dumps(body, ensure_ascii=False).encode(), "application/json"
