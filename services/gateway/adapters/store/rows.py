"""Rows of the gateway schema read back as domain objects."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.domain.attempts import ChannelAttempt
from gateway.domain.model import Payment, PaymentMethod, PaymentPurpose, PaymentState
from gateway.domain.payouts import Payout, PayoutPurpose, PayoutState
from gateway.domain.ports import CardVerification, VerifyElement, VerifyOutcome
from gateway.domain.refunds import Refund, RefundState
from gateway.domain.verification import CardVerificationRecord
from paysuite.money import Money

Row = Mapping[str, Any]

PAYMENT_COLUMNS = (
    "payment_id, request_id, request_hash, merchant_id, merchant_order_no, amount, currency, "
    "method, payer_user_id, state, channel, trace_id, created_at, updated_at, card_id, "
    "description, channel_transaction_id, failure_reason, fee, refunded, needs_reconciliation, "
    "purpose, merchant_fee, merchant_fee_bps, version, platform_coupon"
)


def payment(row: Row) -> Payment:
    return Payment(
        payment_id=row["payment_id"],
        request_id=row["request_id"],
        request_hash=row["request_hash"],
        merchant_id=row["merchant_id"],
        merchant_order_no=row["merchant_order_no"],
        amount=Money(row["currency"], row["amount"]),
        method=PaymentMethod(row["method"]),
        payer_user_id=row["payer_user_id"],
        state=PaymentState(row["state"]),
        channel=row["channel"],
        trace_id=row["trace_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        card_id=row["card_id"],
        description=row["description"],
        channel_transaction_id=row["channel_transaction_id"],
        failure_reason=row["failure_reason"],
        fee=row["fee"],
        refunded=row["refunded"],
        needs_reconciliation=row["needs_reconciliation"],
        purpose=PaymentPurpose(row["purpose"]),
        merchant_fee=row["merchant_fee"],
        merchant_fee_bps=row["merchant_fee_bps"],
        version=row["version"],
        platform_coupon=row["platform_coupon"],
    )


PAYOUT_COLUMNS = (
    "payout_id, request_id, request_hash, purpose, owner_id, amount, currency, channel, payee, "
    "state, trace_id, created_at, updated_at, channel_transaction_id, failure_reason, fee, "
    "needs_reconciliation, return_reason, returned_at, version, source_account"
)


def payout(row: Row) -> Payout:
    return Payout(
        payout_id=row["payout_id"],
        request_id=row["request_id"],
        request_hash=row["request_hash"],
        purpose=PayoutPurpose(row["purpose"]),
        owner_id=row["owner_id"],
        amount=Money(row["currency"], row["amount"]),
        channel=row["channel"],
        payee=row["payee"],
        state=PayoutState(row["state"]),
        trace_id=row["trace_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        channel_transaction_id=row["channel_transaction_id"],
        failure_reason=row["failure_reason"],
        fee=row["fee"],
        needs_reconciliation=row["needs_reconciliation"],
        return_reason=row["return_reason"],
        returned_at=row["returned_at"],
        version=row["version"],
        source_account_id=row["source_account"],
    )


def attempt(row: Row) -> ChannelAttempt:
    return ChannelAttempt(
        payment_id=row["payment_id"],
        attempt_no=row["attempt_no"],
        channel=row["channel"],
        rule=row["rule"],
        reason=row["reason"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        outcome=row["outcome"],
        error_code=row["error_code"],
        volume_reserved=row["volume_reserved"],
    )


def refund(row: Row) -> Refund:
    return Refund(
        refund_id=row["refund_id"],
        request_id=row["request_id"],
        request_hash=row["request_hash"],
        payment_id=row["payment_id"],
        amount=Money(row["currency"], row["amount"]),
        state=RefundState(row["state"]),
        reason=row["reason"],
        trace_id=row["trace_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        channel_refund_id=row["channel_refund_id"],
        failure_reason=row["failure_reason"],
        platform_coupon=row["platform_coupon"],
    )


def card_verification(row: Row) -> CardVerificationRecord:
    return CardVerificationRecord(
        request_id=row["request_id"],
        request_hash=row["request_hash"],
        channel=row["channel"],
        result=CardVerification(
            outcome=VerifyOutcome(row["outcome"]),
            mismatched=tuple(VerifyElement(e) for e in row["mismatched"]),
            card_state=row["card_state"],
            reference=row["channel_reference"],
            bank_code=row["bank_code"],
            agreement_no=row["agreement_no"],
        ),
        created_at=row["created_at"],
    )
