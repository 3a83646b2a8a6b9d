"""The WeChat-Pay-style wallet: REST paths, HTTP status codes, trade_state words, integer fen."""

from __future__ import annotations

import json
import time
from datetime import date
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from channelsim.banktime import from_epoch, parse_date
from channelsim.protocol import describe
from paysuite.http_signing import SIGN_ERROR, SIGN_EXPIRED
from walletsim import wechat_bill
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

SIGNATURE_HEADER = "Wechatpay-Signature"
BILL_FILE_PATH = "/v3/billdownload/file"

MAX_AMOUNT_FEN = 100_000_000_00

# WeChat Pay allows 6-32 characters; 64 here so the gateway's 33-character payment ids fit.
OutTradeNo = Annotated[StrictStr, Field(pattern=r"^[0-9A-Za-z_*|-]{6,64}$")]
OutRefundNo = Annotated[StrictStr, Field(pattern=r"^[0-9A-Za-z_*|@-]{1,64}$")]
MchId = Annotated[StrictStr, Field(min_length=1, max_length=32)]
Fen = Annotated[StrictInt, Field(gt=0, le=MAX_AMOUNT_FEN)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)


class Amount(_Body):
    total: Fen
    currency: Literal["CNY"] = "CNY"


class Payer(_Body):
    """The buyer's payment code: buyer data, accepted and never kept or logged."""

    auth_code: Annotated[StrictStr, Field(max_length=64)] = Field(default="", repr=False)


class CodePayRequest(_Body):
    mchid: MchId
    out_trade_no: OutTradeNo
    description: Annotated[StrictStr, Field(min_length=1, max_length=127)]
    notify_url: Annotated[StrictStr, Field(max_length=256)]
    amount: Amount
    payer: Payer = Payer()


class CloseRequest(_Body):
    mchid: MchId


class RefundAmount(_Body):
    refund: Fen
    total: Fen
    currency: Literal["CNY"] = "CNY"


class RefundRequest(_Body):
    out_trade_no: OutTradeNo
    out_refund_no: OutRefundNo
    amount: RefundAmount
    reason: Annotated[StrictStr, Field(max_length=80)] = ""


def _error(status: int, code: str, message: str) -> web.Response:
    return json_response({"code": code, "message": message}, status=status)


def _rfc3339(moment: float | None) -> str:
    return "" if moment is None else from_epoch(moment).isoformat()


def _time(moment: float | None) -> str:
    return "" if moment is None else from_epoch(moment).strftime("%Y-%m-%d %H:%M:%S")


class WechatFlavour(WalletFlavour):
    """Notifies successful payments only, as WeChat Pay does; the resource is sent in the clear
    (the real one encrypts it with the API v3 key) and the body signature covers it."""

    name = "wechat"
    bill_file_path = BILL_FILE_PATH
    bill_file_signed = True  # signed as every API v3 request
    style = NotifyStyle(
        signature_header=SIGNATURE_HEADER,
        acknowledged=lambda status, _body: status in (200, 204),
        # 15s 15s 30s 3m 10m 20m 30m 30m 30m 60m 3h 3h 3h 6h 6h at 15 s
        retry_steps=(1, 1, 2, 12, 40, 80, 120, 120, 120, 240, 720, 720, 720, 1440, 1440),
    )

    def __init__(self, fee_bps: int) -> None:
        self._fee_bps = fee_bps

    def trade_no(self, day: date, digits: Digits) -> str:
        return f"42000{digits(5)}{day:%Y%m%d}{digits(10)}"

    def refund_no(self, day: date, digits: Digits) -> str:
        return f"50300{digits(4)}{day:%Y%m%d}{digits(12)}"

    def buyer(self, digits: Digits) -> tuple[str, str]:
        openid = f"o{digits(27)}"
        return openid, openid

    def status_word(self, trade: Trade) -> str:
        if trade.status == SUCCESS:
            return "REFUND" if trade.refunded else "SUCCESS"
        return {WAITING: "USERPAYING", FAILED: "PAYERROR", CLOSED: "CLOSED"}[trade.status]

    def notifies(self, trade: Trade) -> bool:
        return trade.status == SUCCESS

    def notification(self, trade: Trade, notify_id: str, now: float) -> Message:
        """TRANSACTION.SUCCESS with the transaction as the resource."""
        body = {
            "id": notify_id,
            "create_time": _rfc3339(now),
            "resource_type": "plain-resource",
            "event_type": "TRANSACTION.SUCCESS",
            "summary": "支付成功",
            "resource": self.transaction(trade),
        }
        return Message(
            notify_id=notify_id,
            out_trade_no=trade.out_trade_no,
            status="SUCCESS",
            url=trade.notify_url,
            body=json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(),
            content_type="application/json",
        )

    def transaction(self, trade: Trade) -> dict[str, Any]:
        """The transaction object of pay and query answers and of notifications."""
        state = self.status_word(trade)
        answer: dict[str, Any] = {
            "mchid": trade.mch_id,
            "out_trade_no": trade.out_trade_no,
            "transaction_id": trade.trade_no,
            "trade_type": "MICROPAY",
            "trade_state": state,
            "trade_state_desc": {
                "SUCCESS": "支付成功",
                "REFUND": "转入退款",
                "USERPAYING": "用户支付中",
                "PAYERROR": "支付失败",
                "CLOSED": "已关闭",
            }[state],
            "payer": {"openid": trade.buyer_id},
            "amount": {"total": trade.amount, "currency": trade.currency},
        }
        if trade.status == SUCCESS:
            answer["success_time"] = _rfc3339(trade.decided_at)
            answer["amount"] |= {"payer_total": trade.amount, "payer_currency": trade.currency}
        return answer

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/v3/pay/transactions/codepay", codepay),
            web.get("/v3/pay/transactions/out-trade-no/{out_trade_no}", query),
            web.post("/v3/pay/transactions/out-trade-no/{out_trade_no}/close", close),
            web.post("/v3/refund/domestic/refunds", refund),
            web.get("/v3/bill/tradebill", tradebill),
            web.get(BILL_FILE_PATH, billdownload),
        ]

    def bill_not_ready(self) -> web.Response:
        return _error(400, "STATEMENT_CREATING", "账单生成中，请稍后再试")  # noqa: RUF001

    def system_error(self) -> web.Response:
        return _error(503, "SYSTEM_ERROR", "系统错误")

    def signature_error(self, code: str) -> web.Response:
        message = {SIGN_ERROR: "签名错误", SIGN_EXPIRED: "签名已过期"}.get(code, "请求重放")
        return _error(401, "SIGN_ERROR", message)


def _flavour(state: WalletState) -> WechatFlavour:
    flavour = state.flavour
    assert isinstance(flavour, WechatFlavour)
    return flavour


def _unknown_merchant() -> web.Response:
    return _error(400, "MCH_NOT_EXISTS", "商户号不存在")


async def codepay(request: web.Request) -> web.Response:
    """POST /v3/pay/transactions/codepay: SUCCESS now, or USERPAYING and decided later."""
    state = request.app[STATE]
    try:
        parsed = CodePayRequest.model_validate_json(await request.read())
    except ValidationError as exc:
        return _error(400, "PARAM_ERROR", describe(exc))
    if parsed.mchid != state.settings.merchant_id:
        return _unknown_merchant()
    if not loopback_url(parsed.notify_url, state.settings.notify_hosts):
        return _error(400, "PARAM_ERROR", "notify_url must be a loopback URL")
    order = Order(
        parsed.out_trade_no,
        parsed.mchid,
        parsed.amount.total,
        parsed.amount.currency,
        parsed.description,
        parsed.notify_url,
    )
    try:
        trade, _ = state.wallet.pay(order, time.time())
    except OrderConflict:
        return _error(403, "OUT_TRADE_NO_USED", "商户订单号重复")
    if trade.answered == FAILED:
        answer = _error(403, "NOT_ENOUGH", "用户余额不足")
    elif trade.answered == CLOSED:
        answer = _error(400, "ORDER_CLOSED", "订单已关闭")
    else:
        answer = json_response(_flavour(state).transaction(trade))
    await maybe_time_out(state, trade.out_trade_no)
    return answer


async def query(request: web.Request) -> web.Response:
    """GET /v3/pay/transactions/out-trade-no/{out_trade_no}?mchid=..."""
    state = request.app[STATE]
    if request.query.get("mchid") != state.settings.merchant_id:
        return _unknown_merchant()
    trade = state.wallet.store.trades.get(request.match_info["out_trade_no"])
    if trade is None:
        return _error(404, "ORDER_NOT_EXIST", "订单不存在")
    return json_response(_flavour(state).transaction(trade))


async def close(request: web.Request) -> web.Response:
    """POST .../{out_trade_no}/close: 204 when the order is (now) closed."""
    state = request.app[STATE]
    try:
        parsed = CloseRequest.model_validate_json(await request.read())
    except ValidationError as exc:
        return _error(400, "PARAM_ERROR", describe(exc))
    if parsed.mchid != state.settings.merchant_id:
        return _unknown_merchant()
    trade = state.wallet.close(request.match_info["out_trade_no"], time.time())
    if trade is None:
        return _error(404, "ORDER_NOT_EXIST", "订单不存在")
    if trade.status == SUCCESS:
        return _error(400, "ORDERPAID", "订单已支付")
    return web.Response(status=204, body=b"")


async def refund(request: web.Request) -> web.Response:
    """POST /v3/refund/domestic/refunds: amount.total must be the order's amount."""
    state = request.app[STATE]
    try:
        parsed = RefundRequest.model_validate_json(await request.read())
    except ValidationError as exc:
        return _error(400, "PARAM_ERROR", describe(exc))
    trade = state.wallet.store.trades.get(parsed.out_trade_no)
    if trade is not None and parsed.amount.total != trade.amount:
        return _error(400, "PARAM_ERROR", "订单金额与退款请求不一致")
    try:
        record, _ = state.wallet.refund(
            parsed.out_trade_no, parsed.out_refund_no, parsed.amount.refund, time.time()
        )
    except RefundConflict:
        return _error(400, "INVALID_REQUEST", "退款单号已用于其他退款")
    if record.error == TRADE_NOT_EXIST:
        return _error(404, "RESOURCE_NOT_EXISTS", "订单不存在")
    if record.error == REFUND_EXCEEDS:
        return _error(400, "INVALID_REQUEST", "申请退款金额超过订单可退金额")
    if record.error:
        return _error(400, "INVALID_REQUEST", "订单未支付")
    assert trade is not None
    return json_response(
        {
            "refund_id": record.refund_no,
            "out_refund_no": record.out_refund_no,
            "transaction_id": trade.trade_no,
            "out_trade_no": trade.out_trade_no,
            "channel": "ORIGINAL",
            "create_time": _rfc3339(record.created_at),
            "success_time": _rfc3339(record.created_at),
            "status": "SUCCESS",
            "amount": {
                "refund": record.amount,
                "total": trade.amount,
                "payer_refund": record.amount,
                "currency": trade.currency,
            },
        }
    )


async def tradebill(request: web.Request) -> web.Response:
    """GET /v3/bill/tradebill?bill_date=YYYY-MM-DD&mchid=...: where the day's ALL trade bill can
    be downloaded (download_url, valid 30 s) and its SHA1 (hash_type, hash_value)."""
    state = request.app[STATE]
    if request.query.get("mchid") != state.settings.merchant_id:
        return _unknown_merchant()
    if request.query.get("bill_type", "ALL") != "ALL":
        return _error(400, "PARAM_ERROR", "bill_type: only ALL is served")
    try:
        day = parse_date(request.query.get("bill_date", ""))
    except ValueError:
        return _error(400, "PARAM_ERROR", "bill_date must be YYYY-MM-DD")
    if not state.bills.ready(day, time.time()):
        return state.flavour.bill_not_ready()
    mch_id = state.settings.merchant_id
    made = state.bills.bill(state.wallet.store, mch_id, day)
    text = wechat_bill.trade_bill(made, mch_id, state.settings.fee_bps)
    csv = (text, "text/csv; charset=utf-8", f"{mch_id}_{day:%Y%m%d}_ALL.csv")
    url, handed = hand_out(state, request, csv, {})
    return json_response({"download_url": url, "hash_type": "SHA1", "hash_value": handed.sha1})


async def billdownload(request: web.Request) -> web.Response:
    """GET /v3/billdownload/file?token=...: the bill file the URL was handed out for, while it
    is valid; signed as every request, answered unsigned (the hash was given with the URL)."""
    return serve_file(
        request.app[STATE],
        request,
        lambda: _error(404, "RESOURCE_NOT_EXISTS", "账单文件不存在或下载链接已过期"),
    )
