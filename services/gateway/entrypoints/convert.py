"""Gateway protobuf messages to commands and back; request validation lives here."""

from __future__ import annotations

from gateway.domain.model import CreatePayment, Payment, PaymentMethod, PaymentState
from paysuite.errors import Violations
from paysuite.gateway.v1 import gateway_service_pb2 as pb
from paysuite.runtime.protoconv import check_id, money_from_proto, money_to_proto, timestamp

METHODS = {
    pb.PAYMENT_METHOD_BANK_CARD: PaymentMethod.BANK_CARD,
    pb.PAYMENT_METHOD_ALIPAY: PaymentMethod.ALIPAY,
    pb.PAYMENT_METHOD_WECHAT_PAY: PaymentMethod.WECHAT_PAY,
}
STATES = {
    PaymentState.PROCESSING: pb.Payment.PROCESSING,
    PaymentState.SUCCEEDED: pb.Payment.SUCCEEDED,
    PaymentState.FAILED: pb.Payment.FAILED,
    PaymentState.CLOSED: pb.Payment.CLOSED,
    PaymentState.UNKNOWN: pb.Payment.UNKNOWN,
}
MAX_PAGE_SIZE = 5000
DEFAULT_PAGE_SIZE = 500


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
    violations.require(len(request.description) <= 128, "description", "at most 128 characters")
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
    )


def page_size(value: int, violations: Violations) -> int:
    if value < 0:
        violations.add("page_size", "must not be negative")
    return min(value or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def payment_to_proto(payment: Payment) -> pb.Payment:
    return pb.Payment(
        payment_id=payment.payment_id,
        merchant_id=payment.merchant_id,
        merchant_order_no=payment.merchant_order_no,
        amount=money_to_proto(payment.amount),
        method=next(k for k, v in METHODS.items() if v is payment.method),
        payer_user_id=payment.payer_user_id,
        state=STATES[payment.state],
        channel=payment.channel,
        channel_transaction_id=payment.channel_transaction_id,
        failure_reason=payment.failure_reason,
        trace_id=payment.trace_id,
        card_id=payment.card_id,
        create_time=timestamp(payment.created_at),
        update_time=timestamp(payment.updated_at),
    )


def channel_transaction_to_proto(payment: Payment) -> pb.ChannelTransaction:
    return pb.ChannelTransaction(
        payment_id=payment.payment_id,
        channel=payment.channel,
        channel_transaction_id=payment.channel_transaction_id,
        amount=money_to_proto(payment.amount),
        state=STATES[payment.state],
        create_time=timestamp(payment.created_at),
    )
