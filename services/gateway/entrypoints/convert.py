"""Gateway protobuf messages to commands and back; request validation lives here."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from gateway.domain.attempts import ChannelAttempt
from gateway.domain.model import (
    CreatePayment,
    Payment,
    PaymentMethod,
    PaymentPurpose,
    PaymentState,
)
from gateway.domain.ports import (
    CardCheck,
    ChannelOutcome,
    VerifyElement,
    VerifyMethod,
    VerifyOutcome,
)
from gateway.domain.refunds import Refund, RefundState, RequestRefund
from gateway.domain.verification import CardVerificationRecord
from paysuite.errors import Violations
from paysuite.gateway.v1 import gateway_service_pb2 as pb
from paysuite.money import Money
from paysuite.runtime.enums import value_of
from paysuite.runtime.paging import Page, PageSize, Paging
from paysuite.runtime.protoconv import (
    check_id,
    date_from_proto,
    money_from_proto,
    money_to_proto,
    timestamp,
)

PURPOSES = {
    pb.PAYMENT_PURPOSE_UNSPECIFIED: PaymentPurpose.PURCHASE,
    pb.PAYMENT_PURPOSE_PURCHASE: PaymentPurpose.PURCHASE,
    pb.PAYMENT_PURPOSE_TOP_UP: PaymentPurpose.TOP_UP,
}
METHODS = {
    pb.PAYMENT_METHOD_BANK_CARD: PaymentMethod.BANK_CARD,
    pb.PAYMENT_METHOD_ALIPAY: PaymentMethod.ALIPAY,
    pb.PAYMENT_METHOD_WECHAT_PAY: PaymentMethod.WECHAT_PAY,
    pb.PAYMENT_METHOD_WALLET_BALANCE: PaymentMethod.WALLET_BALANCE,
}
# The way back: each method and purpose by its one proto value (UNSPECIFIED reads as PURCHASE).
METHODS_OUT = {method: value for value, method in METHODS.items()}
PURPOSES_OUT = {purpose: value for value, purpose in PURPOSES.items() if value}
STATES = {
    PaymentState.PROCESSING: pb.Payment.STATE_PROCESSING,
    PaymentState.SUCCEEDED: pb.Payment.STATE_SUCCEEDED,
    PaymentState.FAILED: pb.Payment.STATE_FAILED,
    PaymentState.CLOSED: pb.Payment.STATE_CLOSED,
    PaymentState.UNKNOWN: pb.Payment.STATE_UNKNOWN,
    PaymentState.DUPLICATE: pb.Payment.STATE_DUPLICATE,
}
VERIFY_OUTCOMES = {
    VerifyOutcome.MATCH: pb.VERIFY_OUTCOME_MATCH,
    VerifyOutcome.MISMATCH: pb.VERIFY_OUTCOME_MISMATCH,
    VerifyOutcome.NO_RECORD: pb.VERIFY_OUTCOME_NO_RECORD,
    VerifyOutcome.CARD_STATE: pb.VERIFY_OUTCOME_CARD_STATE,
    VerifyOutcome.CANNOT_VERIFY: pb.VERIFY_OUTCOME_CANNOT_VERIFY,
    VerifyOutcome.RATE_LIMITED: pb.VERIFY_OUTCOME_RATE_LIMITED,
}
VERIFY_ELEMENTS = {
    VerifyElement.NAME: pb.VERIFY_ELEMENT_NAME,
    VerifyElement.ID_NUMBER: pb.VERIFY_ELEMENT_ID_NUMBER,
    VerifyElement.PHONE: pb.VERIFY_ELEMENT_PHONE,
}
PAYMENTS_PAGE = PageSize(default=50, maximum=500)
CHANNEL_TRANSACTIONS_PAGE = PageSize(default=500, maximum=5000)
MAX_NAME_LENGTH = 64
_ID_NUMBER_RE = re.compile(r"^[0-9]{17}[0-9X]$")
_CARD_NUMBER_RE = re.compile(r"^[0-9]{13,19}$")
_PHONE_RE = re.compile(r"^1[0-9]{10}$")


def create_command(request: pb.CreatePaymentRequest) -> CreatePayment:
    violations = Violations()
    check_id(request.request_id, "request_id", violations)
    check_id(request.merchant_id, "merchant_id", violations, max_length=32)
    check_id(request.merchant_order_no, "merchant_order_no", violations)
    check_id(request.payer_user_id, "payer_user_id", violations, max_length=32)
    check_id(request.card_id, "card_id", violations, max_length=40, required=False)
    amount = money_from_proto(
        request.amount, "amount", violations, has_value=request.HasField("amount")
    )
    violations.require(request.method in METHODS, "method", "required")
    violations.text(request.description, "description", at_most=128)
    violations.require(0 <= request.auth_factors <= 5, "auth_factors", "0 to 5")
    violations.require(request.purpose in PURPOSES, "purpose", "not a purpose")
    violations.require(
        not (
            request.purpose == pb.PAYMENT_PURPOSE_TOP_UP
            and request.method == pb.PAYMENT_METHOD_WALLET_BALANCE
        ),
        "purpose",
        "a wallet is topped up by card or an external wallet, not from its own balance",
    )
    coupon = _platform_coupon(request, amount, violations)
    violations.raise_if_any()
    assert amount is not None
    return CreatePayment(
        request_id=request.request_id,
        merchant_id=request.merchant_id,
        merchant_order_no=request.merchant_order_no,
        amount=amount,
        method=METHODS[request.method],
        payer_user_id=request.payer_user_id,
        card_id=request.card_id,
        description=request.description,
        auth_factors=request.auth_factors or 1,
        purpose=PURPOSES[request.purpose],
        platform_coupon=coupon,
    )


def _platform_coupon(
    request: pb.CreatePaymentRequest, amount: Money | None, violations: Violations
) -> int:
    """The platform coupon's minor units (0: none): the amount's currency, more than zero and
    less than the amount, on a purchase."""
    if not request.HasField("platform_coupon"):
        return 0
    coupon = money_from_proto(request.platform_coupon, "platform_coupon", violations)
    if coupon is None:
        return 0
    violations.require(
        request.purpose != pb.PAYMENT_PURPOSE_TOP_UP,
        "platform_coupon",
        "only a purchase takes a platform coupon",
    )
    if amount is None:
        return coupon.minor_units
    if coupon.currency != amount.currency:
        violations.add("platform_coupon.currency_code", "must be the amount's currency")
    elif coupon.minor_units >= amount.minor_units:
        violations.add("platform_coupon.minor_units", "must be less than the amount")
    return coupon.minor_units


VERIFY_METHODS = {
    pb.VERIFY_METHOD_UNSPECIFIED: VerifyMethod.FOUR_ELEMENTS,
    pb.VERIFY_METHOD_FOUR_ELEMENTS: VerifyMethod.FOUR_ELEMENTS,
    pb.VERIFY_METHOD_THREE_ELEMENTS: VerifyMethod.THREE_ELEMENTS,
    pb.VERIFY_METHOD_NAME_ID: VerifyMethod.NAME_ID,
}


def card_check(request: pb.VerifyCardRequest) -> CardCheck:
    """The elements the method needs, checked for shape only; descriptions never echo a value."""
    violations = Violations()
    method = VERIFY_METHODS.get(request.method)
    violations.require(method is not None, "method", "unknown verification method")
    method = method or VerifyMethod.FOUR_ELEMENTS
    needs_card = method is not VerifyMethod.NAME_ID
    needs_phone = method is VerifyMethod.FOUR_ELEMENTS
    violations.require(
        not request.sign_agreement or needs_phone,
        "sign_agreement",
        "only a four-element verification can sign an agreement",
    )
    check_id(request.request_id, "request_id", violations)
    if not request.name.strip():
        violations.add("name", "required")
    elif len(request.name) > MAX_NAME_LENGTH:
        violations.add("name", f"at most {MAX_NAME_LENGTH} characters")
    violations.require(
        _ID_NUMBER_RE.match(request.id_number) is not None,
        "id_number",
        "must be 18 characters: 17 digits, then a digit or X",
    )
    violations.require(
        _CARD_NUMBER_RE.match(request.card_number) is not None
        if needs_card
        else not request.card_number,
        "card_number",
        "must be 13 to 19 digits" if needs_card else "not used by this method",
    )
    violations.require(
        _PHONE_RE.match(request.phone) is not None if needs_phone else not request.phone,
        "phone",
        "must be 11 digits starting with 1" if needs_phone else "not used by this method",
    )
    violations.raise_if_any()
    return CardCheck(
        request_id=request.request_id,
        name=request.name,
        id_number=request.id_number,
        card_number=request.card_number,
        phone=request.phone,
        sign_agreement=request.sign_agreement,
        method=method,
    )


def verification_to_proto(record: CardVerificationRecord) -> pb.VerifyCardResponse:
    result = record.result
    return pb.VerifyCardResponse(
        outcome=VERIFY_OUTCOMES[result.outcome],
        mismatched_elements=[VERIFY_ELEMENTS[e] for e in result.mismatched],
        card_state=result.card_state,
        channel=record.channel,
        channel_reference=result.reference,
        agreement_no=result.agreement_no,
        bank_code=result.bank_code,
    )


def payment_to_proto(payment: Payment) -> pb.Payment:
    return pb.Payment(
        payment_id=payment.payment_id,
        merchant_id=payment.merchant_id,
        merchant_order_no=payment.merchant_order_no,
        amount=money_to_proto(payment.amount),
        method=METHODS_OUT[payment.method],
        payer_user_id=payment.payer_user_id,
        state=STATES[payment.state],
        channel=payment.channel,
        channel_transaction_id=payment.channel_transaction_id,
        failure_reason=payment.failure_reason,
        trace_id=payment.trace_id,
        card_id=payment.card_id,
        create_time=timestamp(payment.created_at),
        update_time=timestamp(payment.updated_at),
        purpose=PURPOSES_OUT[payment.purpose],
        merchant_fee=money_to_proto(Money(payment.amount.currency, payment.merchant_fee)),
        platform_coupon=money_to_proto(Money(payment.amount.currency, payment.platform_coupon)),
    )


# Attempts store the outcome's value; the proto enum spells every outcome by the same name.
ATTEMPT_OUTCOMES = {o.value: value_of(pb.ChannelAttempt.Outcome, o.name) for o in ChannelOutcome}


def attempt_to_proto(attempt: ChannelAttempt) -> pb.ChannelAttempt:
    return pb.ChannelAttempt(
        attempt_no=attempt.attempt_no,
        channel=attempt.channel,
        rule=attempt.rule,
        reason=attempt.reason,
        outcome=ATTEMPT_OUTCOMES.get(attempt.outcome, pb.ChannelAttempt.OUTCOME_UNSPECIFIED),
        error_code=attempt.error_code,
        create_time=timestamp(attempt.created_at),
        update_time=timestamp(attempt.updated_at),
    )


def channel_transaction_to_proto(payment: Payment) -> pb.ChannelTransaction:
    return pb.ChannelTransaction(
        payment_id=payment.payment_id,
        channel=payment.channel,
        channel_transaction_id=payment.channel_transaction_id,
        amount=money_to_proto(payment.charged),
        state=STATES[payment.state],
        create_time=timestamp(payment.created_at),
    )


@dataclass(frozen=True, slots=True)
class ListQuery:
    merchant_id: str
    order_no: str
    state: PaymentState | None
    day: date | None
    page: Page[tuple[datetime, str]]


def list_query(request: pb.ListPaymentsRequest, paging: Paging) -> ListQuery:
    violations = Violations()
    check_id(request.merchant_id, "merchant_id", violations, max_length=32)
    check_id(request.merchant_order_no, "merchant_order_no", violations, required=False)
    day = None
    if request.HasField("accounting_date"):
        day = date_from_proto(request.accounting_date, "accounting_date", violations)
    page = paging.page(request, PAYMENTS_PAGE, violations, (datetime, str))
    violations.raise_if_any()
    state = next((k for k, v in STATES.items() if v == request.state), None)
    return ListQuery(request.merchant_id, request.merchant_order_no, state, day, page)


def refund_command(request: pb.RefundPaymentRequest) -> RequestRefund:
    violations = Violations()
    check_id(request.request_id, "request_id", violations)
    check_id(request.payment_id, "payment_id", violations)
    amount = money_from_proto(
        request.amount, "amount", violations, has_value=request.HasField("amount")
    )
    violations.text(request.reason, "reason", at_most=128, required=True)
    violations.raise_if_any()
    assert amount is not None
    return RequestRefund(request.request_id, request.payment_id, amount, request.reason.strip())


REFUND_STATES = {s: value_of(pb.Refund.State, s.name) for s in RefundState}


def refund_to_proto(refund: Refund) -> pb.Refund:
    return pb.Refund(
        refund_id=refund.refund_id,
        payment_id=refund.payment_id,
        amount=money_to_proto(refund.amount),
        state=REFUND_STATES[refund.state],
        reason=refund.reason,
        channel_refund_id=refund.channel_refund_id,
        failure_reason=refund.failure_reason,
        trace_id=refund.trace_id,
        create_time=timestamp(refund.created_at),
        update_time=timestamp(refund.updated_at),
        platform_coupon=money_to_proto(Money(refund.amount.currency, refund.platform_coupon)),
    )


ACCOUNT_STATEMENT_FORMAT = "camt.053.001.08"
_ACCOUNT_NUMBER_RE = re.compile(r"^[0-9]{6,32}$")


def account_statement_query(request: pb.FetchAccountStatementRequest) -> tuple[str, str, date]:
    """The bank channel, account number and date asked for; INVALID_ARGUMENT otherwise."""
    violations = Violations()
    check_id(request.channel, "channel", violations, max_length=32)
    if not _ACCOUNT_NUMBER_RE.match(request.account_number):
        violations.add("account_number", "must be 6 to 32 digits")
    day = date_from_proto(request.statement_date, "statement_date", violations)
    violations.raise_if_any()
    assert day is not None
    return request.channel, request.account_number, day
