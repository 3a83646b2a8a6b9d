"""The Alipay-style wallet (simulated by `walletsim`): gateway.do methods, body codes, yuan."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs

from gateway.adapters.channels.banksim import ChannelUnavailable
from gateway.adapters.channels.walletsim_common import (
    DEFAULT_SUBJECT,
    NO_ANSWER,
    BillLocation,
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

_SHANGHAI = timezone(timedelta(hours=8))

_TRADE_STATUS = {
    "TRADE_SUCCESS": ChannelOutcome.SUCCEEDED,
    "TRADE_FINISHED": ChannelOutcome.SUCCEEDED,
    "TRADE_CLOSED": ChannelOutcome.FAILED,
    "WAIT_BUYER_PAY": ChannelOutcome.PENDING,
}
# 40004 sub-codes that say for certain the buyer was not charged (others: ask again).
_DECLINED = frozenset(
    {
        "ACQ.BUYER_BALANCE_NOT_ENOUGH",
        "ACQ.BUYER_BANKCARD_BALANCE_NOT_ENOUGH",
        "ACQ.PAYMENT_FAIL",
        "ACQ.TRADE_HAS_CLOSE",
        "ACQ.BUYER_ENABLE_STATUS_FORBID",
    }
)
_REFUND_REFUSED = frozenset(
    {
        "ACQ.TRADE_NOT_EXIST",
        "ACQ.TRADE_STATUS_ERROR",
        "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL",
        "ACQ.CONTEXT_INCONSISTENT",
    }
)


def _yuan(amount: Money) -> str:
    major, minor = divmod(amount.minor_units, 100)
    return f"{major}.{minor:02d}"


def _status_answer(answer: dict[str, Any]) -> ChannelAnswer:
    status = str(answer.get("trade_status") or "")
    outcome = _TRADE_STATUS.get(status, ChannelOutcome.UNKNOWN)
    return ChannelAnswer(
        outcome,
        channel_transaction_id=str(answer.get("trade_no") or "")[:64],
        error_code=status if outcome is ChannelOutcome.FAILED else "",
    )


class AlipayChannel(WalletChannel):
    """Adapter for the Alipay-style wallet; a charge is a bar-code payment (trade.pay).

    Alipay answers business outcomes with HTTP 200: code 10000 is done, 10003 means the buyer
    is still confirming, 40004 is refused (sub_code says why), 20000 is "try again".
    """

    signature_header = "Alipay-Signature"

    async def _invoke(
        self, method: str, content: dict[str, Any], *, notify: bool = False
    ) -> dict[str, Any]:
        """The method's response object, or error_response; {"code": "HTTP_<n>"} off 200."""
        payload: dict[str, Any] = {
            "app_id": self._merchant_id,
            "method": method,
            "format": "JSON",
            "charset": "utf-8",
            "version": "1.0",
            "timestamp": datetime.now(UTC).astimezone(_SHANGHAI).strftime("%Y-%m-%d %H:%M:%S"),
            "biz_content": content,
        }
        if notify:
            payload["notify_url"] = self._notify_url
        reply = await self._call("POST", "/gateway.do", payload)
        if reply.status != 200:
            return {"code": f"HTTP_{reply.status}"}
        answer = reply.body.get(method.replace(".", "_") + "_response")
        if answer is None:
            answer = reply.body.get("error_response")
        if not isinstance(answer, dict):
            raise ValueError("no response object in the answer")
        return answer

    async def charge(self, charge: ChannelCharge) -> ChannelAnswer:
        content = {
            "out_trade_no": charge.payment_id,
            "total_amount": _yuan(charge.amount),
            "subject": charge.subject or DEFAULT_SUBJECT,
            "scene": "bar_code",
        }
        try:
            answer = await self._invoke("alipay.trade.pay", content, notify=True)
        except NO_ANSWER as exc:
            return self._no_answer("charge", charge.payment_id, exc)
        code, sub_code = str(answer.get("code")), str(answer.get("sub_code") or "")
        trade_no = str(answer.get("trade_no") or "")[:64]
        if code == "10000":
            return ChannelAnswer(ChannelOutcome.SUCCEEDED, trade_no)
        if code == "10003":
            return ChannelAnswer(ChannelOutcome.PENDING, trade_no, error_code="WAIT_BUYER_PAY")
        if (code == "40004" and sub_code in _DECLINED) or code == "40002":
            # 40002: the request was refused as it stood, so nothing was created.
            return ChannelAnswer(ChannelOutcome.FAILED, trade_no, error_code=sub_code or code)
        return ChannelAnswer(ChannelOutcome.UNKNOWN, trade_no, error_code=sub_code or code)

    async def query(self, payment_id: str) -> ChannelAnswer:
        try:
            answer = await self._invoke("alipay.trade.query", {"out_trade_no": payment_id})
        except NO_ANSWER as exc:
            return self._no_answer("query", payment_id, exc)
        if answer.get("code") == "10000":
            return _status_answer(answer)
        if answer.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
            return ChannelAnswer(ChannelOutcome.FAILED, error_code="ORDER_NOT_EXIST")
        return ChannelAnswer(ChannelOutcome.UNKNOWN, error_code=str(answer.get("code")))

    async def close(self, payment_id: str) -> ChannelAnswer:
        try:
            answer = await self._invoke("alipay.trade.close", {"out_trade_no": payment_id})
        except NO_ANSWER as exc:
            return self._no_answer("close", payment_id, exc)
        trade_no = str(answer.get("trade_no") or "")[:64]
        sub_code = str(answer.get("sub_code") or "")
        if answer.get("code") == "10000":
            return ChannelAnswer(ChannelOutcome.FAILED, trade_no, error_code="CLOSED")
        if sub_code == "ACQ.TRADE_NOT_EXIST":
            return ChannelAnswer(ChannelOutcome.FAILED, error_code="ORDER_NOT_EXIST")
        # ACQ.TRADE_STATUS_ERROR: paid meanwhile; the caller asks again to learn how.
        return ChannelAnswer(ChannelOutcome.UNKNOWN, trade_no, error_code=sub_code or "CLOSE")

    async def refund(self, refund_id: str, payment_id: str, amount: Money) -> ChannelAnswer:
        """Refunds by out_request_no = refund_id; Alipay names no refund number, so the
        answer carries the trade number the refund belongs to."""
        content = {
            "out_trade_no": payment_id,
            "refund_amount": _yuan(amount),
            "out_request_no": refund_id,
        }
        try:
            answer = await self._invoke("alipay.trade.refund", content)
        except NO_ANSWER as exc:
            return self._no_answer("refund", refund_id, exc)
        trade_no = str(answer.get("trade_no") or "")[:64]
        sub_code = str(answer.get("sub_code") or "")
        if answer.get("code") == "10000":
            # fund_change "N" on a repeat: the money moved the first time.
            return ChannelAnswer(ChannelOutcome.SUCCEEDED, trade_no)
        if answer.get("code") == "40004" and sub_code in _REFUND_REFUSED:
            return ChannelAnswer(ChannelOutcome.FAILED, trade_no, error_code=sub_code)
        return ChannelAnswer(ChannelOutcome.UNKNOWN, error_code=sub_code or str(answer.get("code")))

    async def _bill_location(self, day: date) -> BillLocation:
        """alipay.data.dataservice.bill.downloadurl.query (the trade bill): its
        bill_download_url, where the zip is fetched without a signature (Alipay names no hash)."""
        content = {"bill_type": "trade", "bill_date": day.isoformat()}
        answer = await self._invoke("alipay.data.dataservice.bill.downloadurl.query", content)
        if answer.get("code") != "10000":
            raise ChannelUnavailable(
                "the channel refused the statement download",
                metadata={"code": str(answer.get("code")), "sub_code": str(answer.get("sub_code"))},
            )
        return BillLocation.checked(text(answer, "bill_download_url", 2048))

    def _notification(self, body: bytes) -> ChannelNotification:
        """trade_status_sync, form-encoded; another app's notification is refused."""
        parsed = parse_qs(
            body.decode("utf-8"), keep_blank_values=True, strict_parsing=True, max_num_fields=64
        )
        if any(len(values) != 1 for values in parsed.values()):
            raise ValueError("a field is repeated")
        fields = {key: values[0] for key, values in parsed.items()}
        if fields.get("app_id") != self._merchant_id:
            raise ValueError("app_id is not ours")
        answer = _status_answer(fields)
        if fields.get("refund_fee") or fields.get("gmt_refund"):
            # A refund's notice (a trade refunded in full is TRADE_CLOSED): not the payment's.
            answer = ChannelAnswer(ChannelOutcome.UNKNOWN, answer.channel_transaction_id)
        return ChannelNotification(
            notification_id=text(fields, "notify_id", 128),
            payment_id=text(fields, "out_trade_no"),
            amount=Money.parse(text(fields, "total_amount", 16), "CNY"),
            answer=answer,
        )

    def notify_reply(self, ok: bool) -> tuple[bytes, str]:
        """Alipay takes the literal body "success" as received; anything else is retried."""
        return (b"success" if ok else b"fail"), "text/plain"
