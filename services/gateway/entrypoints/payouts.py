"""Payout and withdrawal messages to commands and back; request validation lives here."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from gateway.domain.payouts import (
    CreateSettlementPayout,
    CreateWithdrawal,
    Payout,
    PayoutPurpose,
    PayoutState,
)
from paysuite.errors import Violations
from paysuite.gateway.v1 import payouts_pb2 as pb
from paysuite.money import Money
from paysuite.runtime.enums import value_of
from paysuite.runtime.paging import Page, PageSize, Paging
from paysuite.runtime.protoconv import check_id, money_from_proto, money_to_proto, timestamp

PAYOUTS_PAGE = PageSize(default=50, maximum=500)
PURPOSES = {p: value_of(pb.PayoutPurpose, p.name) for p in PayoutPurpose}
STATES = {s: value_of(pb.Payout.State, s.name) for s in PayoutState}
_ACCOUNT_NO_RE = re.compile(r"^[0-9]{6,32}$")
MAX_ACCOUNT_NAME = 64
MAX_REMARK = 128
MAX_SOURCE_ACCOUNT = 128


def settlement_command(request: pb.CreatePayoutRequest) -> CreateSettlementPayout:
    violations = Violations()
    check_id(request.request_id, "request_id", violations)
    check_id(request.merchant_id, "merchant_id", violations, max_length=32)
    amount = money_from_proto(
        request.amount, "amount", violations, has_value=request.HasField("amount")
    )
    account = request.payee_account
    violations.require(request.HasField("payee_account"), "payee_account", "required")
    violations.require(
        _ACCOUNT_NO_RE.match(account.account_no) is not None,
        "payee_account.account_no",
        "6 to 32 digits",
    )
    violations.text(
        account.account_name.strip(),
        "payee_account.account_name",
        at_most=MAX_ACCOUNT_NAME,
        required=True,
    )
    violations.text(request.remark, "remark", at_most=MAX_REMARK)
    source = request.source_account_id
    violations.require(
        not source
        or (
            amount is not None
            and source.startswith(f"merchant.{request.merchant_id}.")
            and source.endswith(f".{amount.currency}")
            and len(source) <= MAX_SOURCE_ACCOUNT
        ),
        "source_account_id",
        "one of the merchant's own accounts in the amount's currency",
    )
    violations.raise_if_any()
    assert amount is not None
    return CreateSettlementPayout(
        request.request_id,
        request.merchant_id,
        amount,
        account.account_no,
        account.account_name.strip(),
        request.remark,
        source,
    )


def withdrawal_command(request: pb.CreateWithdrawalRequest) -> CreateWithdrawal:
    violations = Violations()
    check_id(request.request_id, "request_id", violations)
    check_id(request.user_id, "user_id", violations, max_length=32)
    check_id(request.card_id, "card_id", violations, max_length=40, required=False)
    amount = money_from_proto(
        request.amount, "amount", violations, has_value=request.HasField("amount")
    )
    violations.require(0 <= request.auth_factors <= 5, "auth_factors", "0 to 5")
    violations.raise_if_any()
    assert amount is not None
    return CreateWithdrawal(
        request.request_id, request.user_id, amount, request.card_id, request.auth_factors or 1
    )


def payout_to_proto(payout: Payout) -> pb.Payout:
    withdrawal = payout.purpose is PayoutPurpose.WITHDRAWAL
    return pb.Payout(
        payout_id=payout.payout_id,
        purpose=PURPOSES[payout.purpose],
        merchant_id="" if withdrawal else payout.owner_id,
        user_id=payout.owner_id if withdrawal else "",
        amount=money_to_proto(payout.amount),
        payee=payout.payee,
        state=STATES[payout.state],
        channel=payout.channel,
        channel_transaction_id=payout.channel_transaction_id,
        failure_reason=payout.failure_reason,
        channel_fee=money_to_proto(Money(payout.amount.currency, payout.fee)),
        return_reason=payout.return_reason,
        return_time=timestamp(payout.returned_at),
        needs_reconciliation=payout.needs_reconciliation,
        trace_id=payout.trace_id,
        create_time=timestamp(payout.created_at),
        update_time=timestamp(payout.updated_at),
        source_account_id=payout.source_account,
    )


def withdrawal_to_proto(payout: Payout) -> pb.Withdrawal:
    return pb.Withdrawal(
        withdrawal_id=payout.payout_id,
        user_id=payout.owner_id,
        card_id=payout.payee,
        amount=money_to_proto(payout.amount),
        state=STATES[payout.state],
        failure_reason=payout.failure_reason,
        return_reason=payout.return_reason,
        trace_id=payout.trace_id,
        create_time=timestamp(payout.created_at),
        update_time=timestamp(payout.updated_at),
    )


@dataclass(frozen=True, slots=True)
class ListPayoutsQuery:
    purpose: PayoutPurpose | None
    owner_id: str
    state: PayoutState | None
    page: Page[tuple[datetime, str]]


def list_query(request: pb.ListPayoutsRequest, paging: Paging) -> ListPayoutsQuery:
    """The filters; a merchant's are settlements, a user's withdrawals."""
    violations = Violations()
    check_id(request.merchant_id, "merchant_id", violations, max_length=32, required=False)
    check_id(request.user_id, "user_id", violations, max_length=32, required=False)
    purpose = next((p for p, v in PURPOSES.items() if v == request.purpose), None)
    if request.merchant_id and request.user_id:
        violations.add("user_id", "give merchant_id or user_id, not both")
    owner_purpose = (
        PayoutPurpose.SETTLEMENT
        if request.merchant_id
        else PayoutPurpose.WITHDRAWAL
        if request.user_id
        else None
    )
    if owner_purpose is not None:
        violations.require(
            purpose in (None, owner_purpose),
            "purpose",
            "a merchant's payouts are settlements, a user's withdrawals",
        )
        purpose = owner_purpose
    page = paging.page(request, PAYOUTS_PAGE, violations, (datetime, str))
    violations.raise_if_any()
    state = next((s for s, v in STATES.items() if v == request.state), None)
    return ListPayoutsQuery(purpose, request.merchant_id or request.user_id, state, page)
