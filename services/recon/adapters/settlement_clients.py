"""The gateway and the ledger as settlement uses them: a date's records of a channel, the
settlement accounts and transfers, and payouts (代付) to merchants' bank accounts."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Sequence
from datetime import date
from typing import TypeVar

import grpc

from paysuite import accounts
from paysuite.errors import DomainError, ErrorKind, Unavailable
from paysuite.gateway.v1 import channel_records_pb2 as cpb
from paysuite.gateway.v1 import channel_records_pb2_grpc as cpb_grpc
from paysuite.gateway.v1 import gateway_service_pb2_grpc as gpb_grpc
from paysuite.gateway.v1 import payouts_pb2 as ppb
from paysuite.ledger.v1 import ledger_service_pb2 as lpb
from paysuite.ledger.v1 import ledger_service_pb2_grpc as lpb_grpc
from paysuite.money import Money
from paysuite.runtime.grpc_errors import error_reason, reason_name
from paysuite.runtime.protoconv import date_to_proto, money_to_proto
from paysuite.type.v1.error_reason_pb2 import ErrorReason
from recon.domain.settlement import (
    GatewayPayout,
    PayoutState,
    SettlementPayout,
    SettlementSettings,
)
from recon.domain.settlement_postings import SettlementTransfer
from recon.domain.settlement_tally import ClearingRecord

T = TypeVar("T")

_CAPTURED = (cpb.ChannelRecord.STATE_SUCCEEDED, cpb.ChannelRecord.STATE_DUPLICATE)
_DONE = (lpb.CREATE_TRANSFER_RESULT_POSTED, lpb.CREATE_TRANSFER_RESULT_EXISTS)
_STATES = {
    ppb.Payout.STATE_PROCESSING: PayoutState.PROCESSING,
    ppb.Payout.STATE_UNKNOWN: PayoutState.PROCESSING,
    ppb.Payout.STATE_SUCCEEDED: PayoutState.SUCCEEDED,
    ppb.Payout.STATE_FAILED: PayoutState.FAILED,
    ppb.Payout.STATE_RETURNED: PayoutState.RETURNED,
}
# A call whose request may have arrived: asked again under the same request id, never guessed.
_MAYBE_ARRIVED = (
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.CANCELLED,
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.UNKNOWN,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
)
RETURNED_PAGES = 5


class SettlementRefused(DomainError):
    """The ledger refused a settlement transfer (an account missing or overdrawn)."""

    kind = ErrorKind.FAILED_PRECONDITION


async def _call(service: str, call: Awaitable[T]) -> T:
    try:
        return await call
    except grpc.aio.AioRpcError as exc:
        raise Unavailable(f"{service}: {exc.code().name}") from exc


class GatewayRecords:
    """A channel's succeeded purchases and refunds of a date, from the gateway's records."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._stub = cpb_grpc.ChannelRecordsServiceStub(channel)

    async def records(self, channel: str, day: date) -> AsyncIterator[list[ClearingRecord]]:
        request = cpb.StreamChannelRecordsRequest(
            channel=channel, accounting_date=date_to_proto(day)
        )
        try:
            async for batch in self._stub.StreamChannelRecords(request):
                yield [
                    _clearing_record(channel, r)
                    for r in batch.records
                    if r.state in _CAPTURED and not r.top_up
                ]
        except grpc.aio.AioRpcError as exc:
            raise Unavailable(f"gateway: {exc.code().name}") from exc


def _clearing_record(channel: str, record: cpb.ChannelRecord) -> ClearingRecord:
    return ClearingRecord(
        channel=channel,
        merchant_id=record.merchant_id,
        currency=record.amount.currency_code,
        refund=record.kind == cpb.ChannelRecord.KIND_REFUND,
        amount=record.amount.minor_units,
        channel_fee=record.fee_minor_units,
        merchant_fee=record.merchant_fee_minor_units,
        platform_coupon=record.platform_coupon_minor_units,
    )


def _account(
    account_id: str, name: str, kind: lpb.AccountType.ValueType, currency: str, merchant: str = ""
) -> lpb.AccountSpec:
    return lpb.AccountSpec(
        account_id=account_id,
        name=name,
        type=kind,
        currency_code=currency,
        owner_type=lpb.OWNER_TYPE_MERCHANT if merchant else lpb.OWNER_TYPE_PLATFORM,
        owner_id=merchant,
    )


class LedgerBooks:
    """Opens the settlement accounts and posts settlement transfers, each once."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._stub = lpb_grpc.LedgerServiceStub(channel)

    async def open_accounts(self, merchants: Sequence[tuple[str, str]]) -> None:
        liability, asset = lpb.ACCOUNT_TYPE_LIABILITY, lpb.ACCOUNT_TYPE_ASSET
        specs = []
        for currency in sorted({c for _, c in merchants}):
            specs += [
                _account(accounts.settlement_advance(currency), "D+0 advances", asset, currency),
                _account(accounts.own_funds(currency), "Own funds", asset, currency),
            ]
        for merchant, currency in merchants:
            specs += [
                _account(
                    accounts.merchant_to_settle(merchant, currency),
                    f"To settle to merchant {merchant}",
                    liability,
                    currency,
                    merchant,
                ),
                _account(
                    accounts.merchant_settling(merchant, currency),
                    f"Settling to merchant {merchant}",
                    liability,
                    currency,
                    merchant,
                ),
                _account(
                    accounts.merchant_reserve(merchant, currency),
                    f"Reserve held of merchant {merchant}",
                    liability,
                    currency,
                    merchant,
                ),
            ]
        for start in range(0, len(specs), 6000):
            request = lpb.CreateAccountsRequest(accounts=specs[start : start + 6000])
            await _call("ledger", self._stub.CreateAccounts(request))

    async def post(self, transfers: Sequence[SettlementTransfer]) -> None:
        """Posts the transfers (posted before: the same answer); raises if one is refused."""
        for start in range(0, len(transfers), 2000):
            specs = [
                lpb.TransferSpec(
                    transfer_id=t.transfer_id,
                    description=t.description,
                    postings=[
                        lpb.Posting(
                            debit_account_id=t.debit,
                            credit_account_id=t.credit,
                            amount=money_to_proto(Money(t.currency, t.amount)),
                        )
                    ],
                )
                for t in transfers[start : start + 2000]
            ]
            response = await _call(
                "ledger", self._stub.CreateTransfers(lpb.CreateTransfersRequest(transfers=specs))
            )
            refused = [r for r in response.results if r.result not in _DONE]
            if refused:
                raise SettlementRefused(
                    "the ledger refused a settlement transfer",
                    metadata={
                        "transfer_id": refused[0].transfer_id,
                        "result": lpb.CreateTransferResult.Name(refused[0].result),
                    },
                )


def _seen(payout: ppb.Payout) -> GatewayPayout:
    return GatewayPayout(
        payout.payout_id, _STATES[payout.state], payout.failure_reason, payout.return_reason
    )


class GatewayPayouts:
    """Pays settlements through the gateway's payouts, from the merchant's settling account."""

    def __init__(self, channel: grpc.aio.Channel, timeout_seconds: float = 30.0) -> None:
        self._stub = gpb_grpc.GatewayServiceStub(channel)
        self._timeout = timeout_seconds

    async def pay(self, payout: SettlementPayout, settings: SettlementSettings) -> GatewayPayout:
        """Asks the gateway to pay the current attempt (the same request id again: the same
        payout). A refusal of the request itself fails it; no answer leaves it pending."""
        request = ppb.CreatePayoutRequest(
            request_id=payout.request_id,
            merchant_id=payout.merchant_id,
            amount=money_to_proto(Money(payout.currency, payout.amount)),
            payee_account=ppb.PayeeAccount(
                account_no=settings.account_no, account_name=settings.account_name
            ),
            remark=f"settlement {payout.settlement_date:%Y-%m-%d}",
            source_account_id=accounts.merchant_settling(payout.merchant_id, payout.currency),
        )
        try:
            answer = await self._stub.CreatePayout(request, timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            reason = error_reason(exc)
            if exc.code() in _MAYBE_ARRIVED:
                return GatewayPayout(payout.payout_id, PayoutState.PENDING)
            if reason == ErrorReason.ERROR_REASON_REQUEST_ID_REUSED:
                # A payout exists under the request id, asked for with other content (the
                # account changed since): it may be paid, so this one is never failed for it.
                return GatewayPayout(payout.payout_id, PayoutState.PENDING, reason_name(reason))
            return GatewayPayout("", PayoutState.FAILED, reason_name(reason))
        return _seen(answer.payout)

    async def get(self, payout_id: str) -> GatewayPayout:
        request = ppb.GetPayoutRequest(payout_id=payout_id)
        answer = await _call("gateway", self._stub.GetPayout(request, timeout=self._timeout))
        return _seen(answer.payout)

    async def returned(self) -> list[GatewayPayout]:
        """The newest settlement payouts the merchants' banks sent back, a few pages of them."""
        found: list[GatewayPayout] = []
        token = ""
        for _ in range(RETURNED_PAGES):
            request = ppb.ListPayoutsRequest(
                purpose=ppb.PAYOUT_PURPOSE_SETTLEMENT,
                state=ppb.Payout.STATE_RETURNED,
                page_size=500,
                page_token=token,
            )
            page = await _call("gateway", self._stub.ListPayouts(request, timeout=self._timeout))
            found += [_seen(p) for p in page.payouts]
            token = page.next_page_token
            if not token:
                break
        return found
