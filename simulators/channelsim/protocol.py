"""The bank's wire protocol: result codes, request bodies and the payment answer shape."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
)

from channelsim.banktime import format_trade_time
from channelsim.store import PROCESSING, Transaction

PARAM_ERROR = "PARAM_ERROR"
MCH_NOT_EXIST = "MCH_NOT_EXIST"
ORDER_CONFLICT = "ORDER_CONFLICT"
ORDER_NOT_EXIST = "ORDER_NOT_EXIST"
SYSTEM_ERROR = "SYSTEM_ERROR"
RATE_LIMITED = "RATE_LIMITED"
STATEMENT_NOT_READY = "STATEMENT_NOT_READY"
REQ_NO_CONFLICT = "REQ_NO_CONFLICT"

INSUFFICIENT_BALANCE = "INSUFFICIENT_BALANCE"
CARD_DECLINED = "CARD_DECLINED"

MAX_AMOUNT_FEN = 10**12

# Printable ASCII without space, '"' or ',' so ids survive CSV statements unquoted.
OutTradeNo = Annotated[StrictStr, Field(pattern=r"^[!#-+\--~]{1,64}$")]
AgreementNo = Annotated[StrictStr, Field(pattern=r"^AGR[0-9A-Z]{10,40}$")]
Amount = Annotated[StrictInt, Field(gt=0, le=MAX_AMOUNT_FEN)]
MchId = Annotated[StrictStr, Field(min_length=1, max_length=32)]
ReqNo = OutTradeNo
CardNo = Annotated[StrictStr, Field(pattern=r"^[0-9]{13,19}$")]
HolderName = Annotated[StrictStr, Field(min_length=1, max_length=64)]
IdNo = Annotated[StrictStr, Field(pattern=r"^[0-9]{17}[0-9X]$")]
Mobile = Annotated[StrictStr, Field(pattern=r"^1[0-9]{10}$")]
BankCode = Annotated[StrictStr, Field(pattern=r"^[A-Z0-9]{2,16}$")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)


class PayRequest(_Body):
    """POST /api/quickpay/pay."""

    mch_id: MchId
    out_trade_no: OutTradeNo
    agreement_no: AgreementNo
    amount: Amount
    currency: Literal["CNY"]
    subject: Annotated[StrictStr, Field(max_length=128)] = ""


class QueryRequest(_Body):
    """POST /api/quickpay/query."""

    mch_id: MchId
    out_trade_no: OutTradeNo


class VerifyRequest(_Body):
    """POST /api/auth/verify4 (or verify3 without mobile): a cardholder's elements; never logged."""

    mch_id: MchId
    req_no: ReqNo
    name: HolderName
    id_no: IdNo
    card_no: CardNo
    mobile: Mobile | None = None
    sign: StrictBool = False


class IdCheckRequest(_Body):
    """POST /api/idcheck/verify2: name and ID number against the citizen register; never logged."""

    mch_id: MchId
    req_no: ReqNo
    name: HolderName
    id_no: IdNo


class CardholderRequest(_Body):
    """POST /_admin/cards: the bank's record of who holds a card; carries PII, never logged."""

    card_no: CardNo
    name: HolderName
    id_no: IdNo
    mobile: Mobile
    bank_code: BankCode = "ICBC"


class InjectRequest(_Body):
    """POST /_admin/transactions: a transaction that exists only at the bank."""

    out_trade_no: OutTradeNo
    amount: Amount
    currency: Literal["CNY"] = "CNY"
    status: Literal["SUCCESS", "FAIL"] = "SUCCESS"
    trade_time: StrictStr | None = None
    mch_id: MchId | None = None


def describe(error: ValidationError) -> str:
    """A caller-facing summary of validation errors that never echoes the submitted values."""
    parts = []
    for item in error.errors(include_input=False, include_url=False):
        where = ".".join(str(part) for part in item["loc"])
        parts.append(f"{where}: {item['msg']}" if where else item["msg"])
    return "; ".join(parts)


def answer(transaction: Transaction, now: float) -> dict[str, Any]:
    """The pay/query answer for a known order as the bank sees it at `now`."""
    code = transaction.status_at(now)
    settled = code != PROCESSING
    return {
        "code": code,
        "out_trade_no": transaction.out_trade_no,
        "trade_no": transaction.trade_no,
        "amount": transaction.amount,
        "currency": transaction.currency,
        "fee": transaction.fee if settled else 0,
        "err_code": transaction.err_code if settled else "",
        "err_msg": transaction.err_msg if settled else "",
        "trade_time": format_trade_time(transaction.trade_time),
    }


class RefundRequest(_Body):
    """POST /api/quickpay/refund: refund part or all of a paid order, once per out_refund_no."""

    mch_id: MchId
    out_trade_no: OutTradeNo
    out_refund_no: OutTradeNo
    amount: Amount
    currency: Literal["CNY"]


AccountNo = Annotated[StrictStr, Field(pattern=r"^[0-9]{6,32}$")]
AccountName = Annotated[StrictStr, Field(min_length=1, max_length=64)]


class PayoutRequest(_Body):
    """POST /api/payout/pay: pay out to a card bound here (agreement_no) or to a bank account
    (account_no and account_name), once per out_payout_no."""

    mch_id: MchId
    out_payout_no: OutTradeNo
    amount: Amount
    currency: Literal["CNY"]
    agreement_no: AgreementNo | None = None
    account_no: AccountNo | None = None
    account_name: AccountName | None = None
    remark: Annotated[StrictStr, Field(max_length=128)] = ""


class PayoutQueryRequest(_Body):
    """POST /api/payout/query."""

    mch_id: MchId
    out_payout_no: OutTradeNo


class PayoutReturnsRequest(_Body):
    """POST /api/payout/returns: the payouts that came back on a bank date (退票)."""

    mch_id: MchId
    date: Annotated[StrictStr, Field(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]


class ReturnPayoutRequest(_Body):
    """POST /_admin/payouts/{out_payout_no}/return: the payee's bank sends a paid payout back."""

    reason: Annotated[StrictStr, Field(pattern=r"^[A-Z_]{1,32}$")] = "ACCOUNT_CLOSED"
