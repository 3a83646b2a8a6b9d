"""WeChat Pay's trade bill (交易账单), type ALL, as /v3/bill/tradebill's file gives it.

A header row, a row per payment (交易状态 SUCCESS) and per refund (REFUND, 交易时间 its
payment's, 应结订单金额 and 订单金额 0.00, the refund in 退款金额 and 申请退款金额, the fee given
back as a negative 手续费), then the totals block: a row of the totals' names and a row of their
values. Every value is prefixed with a backtick and nothing is quoted; fees have five decimals.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from channelsim.amounts import yuan
from channelsim.banktime import from_epoch
from walletsim.bills import DayBill

HEADER = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,"
    "付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,"
    "退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注"
)
TOTALS_HEADER = (
    "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"
)
TRADE_TYPE = "MICROPAY"  # payment-code (bar-code) payments


def _time(moment: float | None) -> str:
    return "" if moment is None else from_epoch(moment).strftime("%Y-%m-%d %H:%M:%S")


def _fee(fen: int) -> str:
    """A fee as the bill writes it: yuan with five decimals."""
    return f"{yuan(fen)}000"


def _row(values: Iterable[str]) -> str:
    return ",".join(f"`{v}" for v in values)


def app_id(mch_id: str) -> str:
    """The merchant's (made-up, stable) official-account app id the bill names."""
    return "wx" + hashlib.sha256(mch_id.encode()).hexdigest()[:16]


def trade_bill(bill: DayBill, mch_id: str, fee_bps: int) -> bytes:
    """The ALL trade bill of the day, UTF-8, LF line ends."""
    rate = f"{fee_bps / 100:.2f}%"
    appid = app_id(mch_id)
    lines = [HEADER]
    for t in bill.payments:
        amount = yuan(t.amount)
        lines.append(
            _row(
                (
                    _time(t.decided_at), appid, mch_id, "0", "", t.trade_no, t.out_trade_no,
                    t.buyer_id, TRADE_TYPE, "SUCCESS", "OTHERS", t.currency, amount, "0.00",
                    "0", "0", "0.00", "0.00", "", "", t.subject, "", _fee(t.fee), rate, amount,
                    "0.00", "",
                )
            )
        )  # fmt: skip
    for r, t in bill.refunds:
        refund = yuan(r.amount)
        lines.append(
            _row(
                (
                    _time(t.decided_at), appid, mch_id, "0", "", t.trade_no, r.out_trade_no,
                    t.buyer_id, TRADE_TYPE, "REFUND", "OTHERS", t.currency, "0.00", "0.00",
                    r.refund_no, r.out_refund_no, refund, "0.00", "ORIGINAL", "SUCCESS",
                    t.subject, "", _fee(-r.fee), rate, "0.00", refund, "",
                )
            )
        )  # fmt: skip
    paid = yuan(sum(t.amount for t in bill.payments))
    refunded = yuan(sum(r.amount for r, _ in bill.refunds))
    fees = sum(t.fee for t in bill.payments) - sum(r.fee for r, _ in bill.refunds)
    count = len(bill.payments) + len(bill.refunds)
    lines.append(TOTALS_HEADER)
    lines.append(_row((str(count), paid, refunded, "0.00", _fee(fees), paid, refunded)))
    return ("\n".join(lines) + "\n").encode()
