"""The Alipay-style wallet: one gateway endpoint, method names, 10000/10003/40004 codes, yuan."""

from __future__ import annotations

import re
import time
from datetime import date
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError

from channelsim.amounts import yuan
from channelsim.banktime import format_trade_time, from_epoch, parse_date
from channelsim.protocol import describe
from paysuite.http_signing import SIGN_ERROR, SIGN_EXPIRED
from walletsim import alipay_bill
from walletsim.api import json_response, maybe_time_out
from walletsim.bill_download import hand_out, serve_file
from walletsim.flavour import Digits, WalletFlavour
from walletsim.notifier import Message, NotifyStyle, loopback_url
from walletsim.state import STATE, WalletState
from walletsim.store import CLOSED, FAILED, SUCCESS, WAITING, Trade
from walletsim.wallet import (
    REFUND_EXCEEDS,
    TRADE_NOT_EXIST,
    Order,
    OrderConflict,
    RefundConflict,
)

SIGNATURE_HEADER = "Alipay-Signature"

TRADE_SUCCESS = "TRADE_SUCCESS"
TRADE_CLOSED = "TRADE_CLOSED"
WAIT_BUYER_PAY = "WAIT_BUYER_PAY"

PAY = "alipay.trade.pay"
QUERY = "alipay.trade.query"
REFUND = "alipay.trade.refund"
CLOSE = "alipay.trade.close"
BILL_QUERY = "alipay.data.dataservice.bill.downloadurl.query"
BILL_FILE_PATH = "/downloadBillFile.resource"  # as on Alipay's dwbillcenter file server

MAX_AMOUNT_FEN = 100_000_000_00  # 100 million yuan, Alipay's ceiling for one trade
_YUAN_RE = re.compile(r"^(0|[1-9][0-9]{0,9})(\.[0-9]{1,2})?$")

OutTradeNo = Annotated[StrictStr, Field(pattern=r"^[0-9A-Za-z_-]{1,64}$")]
YuanText = Annotated[StrictStr, Field(max_length=16)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)


class Envelope(_Body):
    """The common request parameters of every method; biz_content holds the method's own."""

    app_id: Annotated[StrictStr, Field(min_length=1, max_length=32)]
    method: Annotated[StrictStr, Field(max_length=64)]
    biz_content: dict[str, Any]
    notify_url: Annotated[StrictStr, Field(max_length=256)] = ""
    timestamp: StrictStr = ""


class PayContent(_Body):
    out_trade_no: OutTradeNo
    total_amount: YuanText
    subject: Annotated[StrictStr, Field(min_length=1, max_length=256)]
    # The buyer's payment code (bar-code scene): buyer data, accepted and never kept or logged.
    auth_code: Annotated[StrictStr, Field(max_length=64)] = Field(default="", repr=False)


class TradeContent(_Body):
    out_trade_no: OutTradeNo


class BillUrlContent(_Body):
    bill_type: Literal["trade"]  # the trade bill (signcustomer, the fund-flow one, is not kept)
    bill_date: Annotated[StrictStr, Field(max_length=10)]


class RefundContent(_Body):
    out_trade_no: OutTradeNo
    refund_amount: YuanText
    out_request_no: OutTradeNo


def parse_yuan(text: str) -> int:
    """A positive yuan string with at most two decimals ("12.34") as fen; ValueError otherwise."""
    if not _YUAN_RE.match(text):
        raise ValueError("not a yuan amount")
    whole, _, fraction = text.partition(".")
    fen = int(whole) * 100 + int(fraction.ljust(2, "0") or "0")
    if not 0 < fen <= MAX_AMOUNT_FEN:
        raise ValueError("amount out of range")
    return fen


def _key(method: str) -> str:
    """The answer's key: "<method with _>_response"; "error" gives Alipay's error_response."""
    return method.replace(".", "_") + "_response"


def _reply(method: str, fields: dict[str, Any], status: int = 200) -> web.Response:
    """Alipay answers business outcomes with HTTP 200: the code in the body is what counts."""
    return json_response({_key(method): fields}, status=status)


def _ok(method: str, **fields: Any) -> web.Response:
    return _reply(method, {"code": "10000", "msg": "Success", **fields})


def _failed(method: str, sub_code: str, sub_msg: str) -> web.Response:
    fields = {"code": "40004", "msg": "Business Failed", "sub_code": sub_code, "sub_msg": sub_msg}
    return _reply(method, fields)


def _invalid(method: str, sub_code: str, sub_msg: str) -> web.Response:
    return _reply(
        method,
        {"code": "40002", "msg": "Invalid Arguments", "sub_code": sub_code, "sub_msg": sub_msg},
    )


def _time(moment: float | None) -> str:
    return "" if moment is None else format_trade_time(from_epoch(moment))


class AlipayFlavour(WalletFlavour):
    name = "alipay"
    bill_file_path = BILL_FILE_PATH
    bill_file_signed = False  # the URL's token admits the download
    style = NotifyStyle(
        signature_header=SIGNATURE_HEADER,
        acknowledged=lambda status, body: status == 200 and body.strip() == b"success",
        retry_steps=(1, 2.5, 2.5, 15, 30, 90, 225),  # 4m 10m 10m 1h 2h 6h 15h at 4 min
    )

    def trade_no(self, day: date, digits: Digits) -> str:
        return f"{day:%Y%m%d}2200{digits(16)}"

    def refund_no(self, day: date, digits: Digits) -> str:
        return f"{day:%Y%m%d}2201{digits(16)}"

    def buyer(self, digits: Digits) -> tuple[str, str]:
        return f"2088{digits(12)}", f"1{digits(2)}******{digits(2)}"

    def status_word(self, trade: Trade) -> str:
        if trade.status == WAITING:
            return WAIT_BUYER_PAY
        if trade.status == SUCCESS and trade.refunded < trade.amount:
            return TRADE_SUCCESS
        return TRADE_CLOSED  # unpaid and closed, or paid and refunded in full

    def notifies(self, trade: Trade) -> bool:
        # Every payment, and the closing of one the buyer was asked to pay and did not.
        return trade.status == SUCCESS or (trade.waited and trade.status in (FAILED, CLOSED))

    def notification(self, trade: Trade, notify_id: str, now: float) -> Message:
        """trade_status_sync, form-encoded, as Alipay posts it."""
        word = self.status_word(trade)
        fields = {
            "notify_time": _time(now),
            "notify_type": "trade_status_sync",
            "notify_id": notify_id,
            "app_id": trade.mch_id,
            "charset": "utf-8",
            "version": "1.0",
            "trade_no": trade.trade_no,
            "out_trade_no": trade.out_trade_no,
            "buyer_id": trade.buyer_id,
            "buyer_logon_id": trade.buyer_login,
            "trade_status": word,
            "total_amount": yuan(trade.amount),
            "subject": trade.subject,
            "gmt_create": _time(trade.created_at),
        }
        if trade.status == SUCCESS:
            fields |= {"receipt_amount": yuan(trade.amount), "gmt_payment": _time(now)}
        else:
            fields["gmt_close"] = _time(now)
        return Message(
            notify_id=notify_id,
            out_trade_no=trade.out_trade_no,
            status=word,
            url=trade.notify_url,
            body=urlencode(fields).encode(),
            content_type="application/x-www-form-urlencoded; charset=utf-8",
        )

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/gateway.do", gateway),
            web.get(BILL_FILE_PATH, bill_file),
        ]

    def bill_not_ready(self) -> web.Response:
        return _failed(
            "alipay_data_dataservice_bill_downloadurl_query", "isp.bill_not_exist", "账单不存在"
        )

    def system_error(self) -> web.Response:
        fields = {
            "code": "20000",
            "msg": "Service Currently Unavailable",
            "sub_code": "isp.unknow-error",
            "sub_msg": "系统繁忙",
        }
        return json_response({"error_response": fields}, status=503)

    def signature_error(self, code: str) -> web.Response:
        sub_code = {
            SIGN_ERROR: "isv.invalid-signature",
            SIGN_EXPIRED: "isv.invalid-timestamp",
        }.get(code, "isv.repeated-request")
        fields = {
            "code": "40002",
            "msg": "Invalid Arguments",
            "sub_code": sub_code,
            "sub_msg": "验签出错",
        }
        return json_response({"error_response": fields})


def _trade_fields(state: WalletState, trade: Trade) -> dict[str, Any]:
    return {
        "trade_no": trade.trade_no,
        "out_trade_no": trade.out_trade_no,
        "buyer_logon_id": trade.buyer_login,
        "trade_status": state.flavour.status_word(trade),
        "total_amount": yuan(trade.amount),
    }


def _pay_answer(state: WalletState, trade: Trade) -> web.Response:
    if trade.answered == SUCCESS:
        fields = _trade_fields(state, trade)
        return _ok(
            PAY, **fields, receipt_amount=yuan(trade.amount), gmt_payment=_time(trade.decided_at)
        )
    if trade.answered == WAITING:
        return _reply(PAY, {"code": "10003", "msg": "等待用户付款", **_trade_fields(state, trade)})
    if trade.answered == FAILED:
        return _failed(PAY, "ACQ.BUYER_BALANCE_NOT_ENOUGH", "买家余额不足")
    return _failed(PAY, "ACQ.TRADE_HAS_CLOSE", "交易已经关闭")


async def _pay(request: web.Request, envelope: Envelope) -> web.Response:
    state = request.app[STATE]
    content = PayContent.model_validate(envelope.biz_content)
    if not loopback_url(envelope.notify_url, state.settings.notify_hosts):
        return _invalid(PAY, "isv.invalid-parameter", "notify_url must be a loopback URL")
    try:
        amount = parse_yuan(content.total_amount)
    except ValueError:
        return _invalid(PAY, "isv.invalid-parameter", "total_amount must be yuan, e.g. 12.34")
    order = Order(
        content.out_trade_no, envelope.app_id, amount, "CNY", content.subject, envelope.notify_url
    )
    try:
        trade, _ = state.wallet.pay(order, time.time())
    except OrderConflict:
        return _failed(PAY, "ACQ.CONTEXT_INCONSISTENT", "交易信息被篡改")
    answer = _pay_answer(state, trade)
    await maybe_time_out(state, trade.out_trade_no)
    return answer


def _query(state: WalletState, envelope: Envelope) -> web.Response:
    content = TradeContent.model_validate(envelope.biz_content)
    trade = state.wallet.store.trades.get(content.out_trade_no)
    if trade is None:
        return _failed(QUERY, "ACQ.TRADE_NOT_EXIST", "交易不存在")
    fields = _trade_fields(state, trade)
    if trade.status == SUCCESS:
        fields["send_pay_date"] = _time(trade.decided_at)
    return _ok(QUERY, **fields)


def _close(state: WalletState, envelope: Envelope) -> web.Response:
    content = TradeContent.model_validate(envelope.biz_content)
    trade = state.wallet.close(content.out_trade_no, time.time())
    if trade is None:
        return _failed(CLOSE, "ACQ.TRADE_NOT_EXIST", "交易不存在")
    if trade.status == SUCCESS:
        return _failed(CLOSE, "ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
    return _ok(CLOSE, trade_no=trade.trade_no, out_trade_no=trade.out_trade_no)


def _refund(state: WalletState, envelope: Envelope) -> web.Response:
    content = RefundContent.model_validate(envelope.biz_content)
    try:
        amount = parse_yuan(content.refund_amount)
    except ValueError:
        return _invalid(REFUND, "isv.invalid-parameter", "refund_amount must be yuan")
    try:
        record, new = state.wallet.refund(
            content.out_trade_no, content.out_request_no, amount, time.time()
        )
    except RefundConflict:
        return _failed(REFUND, "ACQ.CONTEXT_INCONSISTENT", "退款请求号已用于其他退款")
    if record.error == TRADE_NOT_EXIST:
        return _failed(REFUND, "ACQ.TRADE_NOT_EXIST", "交易不存在")
    if record.error == REFUND_EXCEEDS:
        return _failed(REFUND, "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限")
    if record.error:
        return _failed(REFUND, "ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
    trade = state.wallet.store.trades[content.out_trade_no]
    return _ok(
        REFUND,
        trade_no=trade.trade_no,
        out_trade_no=trade.out_trade_no,
        buyer_logon_id=trade.buyer_login,
        fund_change="Y" if new else "N",  # a repeated request moves no money again
        refund_fee=yuan(trade.refunded),
        gmt_refund_pay=_time(record.created_at),
    )


async def gateway(request: web.Request) -> web.Response:
    """POST /gateway.do: the method named in the envelope, its parameters in biz_content."""
    state = request.app[STATE]
    try:
        envelope = Envelope.model_validate_json(await request.read())
    except ValidationError as exc:
        fields = {
            "code": "40002",
            "msg": "Invalid Arguments",
            "sub_code": "isv.invalid-parameter",
            "sub_msg": describe(exc),
        }
        return json_response({"error_response": fields})
    method = envelope.method
    if envelope.app_id != state.settings.merchant_id:
        return _invalid(method, "isv.invalid-app-id", "无效的AppID参数")
    try:
        match method:
            case "alipay.trade.pay":
                return await _pay(request, envelope)
            case "alipay.trade.query":
                return _query(state, envelope)
            case "alipay.trade.close":
                return _close(state, envelope)
            case "alipay.trade.refund":
                return _refund(state, envelope)
            case "alipay.data.dataservice.bill.downloadurl.query":
                return _bill_url(request, envelope)
    except ValidationError as exc:
        return _invalid(method, "isv.invalid-parameter", describe(exc))
    fields = {
        "code": "40002",
        "msg": "Invalid Arguments",
        "sub_code": "isv.invalid-method",
        "sub_msg": "不存在的方法名",
    }
    return json_response({"error_response": fields})


def _bill_url(request: web.Request, envelope: Envelope) -> web.Response:
    """alipay.data.dataservice.bill.downloadurl.query: where the day's zipped trade bill can be
    downloaded (bill_download_url, valid 30 s), or isp.bill_not_exist while it is not made."""
    state = request.app[STATE]
    content = BillUrlContent.model_validate(envelope.biz_content)
    try:
        day = parse_date(content.bill_date)
    except ValueError:
        return _invalid(BILL_QUERY, "isv.invalid-bill-date", "账单日期格式不对")
    if not state.bills.ready(day, time.time()):
        return state.flavour.bill_not_ready()
    mch_id = state.settings.merchant_id
    made = state.bills.bill(state.wallet.store, mch_id, day)
    name = alipay_bill.file_name(made, mch_id)
    query = {
        "bizType": "trade",
        "userId": alipay_bill.account(mch_id),
        "fileType": "csv.zip",
        "bizDates": f"{day:%Y%m%d}",
        "downloadFileName": name,
    }
    zipped = (alipay_bill.trade_bill(made, mch_id), "application/zip", name)
    url, _ = hand_out(state, request, zipped, query)
    return _ok(BILL_QUERY, bill_download_url=url)


async def bill_file(request: web.Request) -> web.Response:
    """GET /downloadBillFile.resource?...&token=...: the zipped trade bill the URL was handed
    out for, while it is valid (no signature: the token admits it)."""
    return serve_file(
        request.app[STATE],
        request,
        lambda: web.Response(status=404, text="file not found or its link expired"),
    )
