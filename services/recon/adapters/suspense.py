"""The ledger as recon uses it: opens the suspense and write-off accounts, parks each
discrepancy in suspense by a transfer named after it, and clears suspense items."""

from __future__ import annotations

from collections.abc import Awaitable, Iterable, Sequence
from typing import TypeVar

import grpc

from paysuite.errors import DomainError, ErrorKind, Unavailable
from paysuite.ledger.v1 import ledger_service_pb2 as pb
from paysuite.ledger.v1 import ledger_service_pb2_grpc as pb_grpc
from paysuite.money import Money
from paysuite.runtime.protoconv import money_to_proto
from recon.domain.discrepancies import Discrepancy, Resolution, suspense_account, write_off_account

T = TypeVar("T")

# Transfers per CreateTransfers call (the ledger takes up to 8000).
BATCH = 2000
_DONE = (pb.CREATE_TRANSFER_RESULT_POSTED, pb.CREATE_TRANSFER_RESULT_EXISTS)


class LedgerRefused(DomainError):
    """The ledger refused a suspense transfer (an account missing, a conflicting transfer)."""

    kind = ErrorKind.FAILED_PRECONDITION


class GrpcSuspense:
    def __init__(self, channel: grpc.aio.Channel, timeout_seconds: float = 30.0) -> None:
        self._stub = pb_grpc.LedgerServiceStub(channel)
        self._timeout = timeout_seconds

    async def open_accounts(self, channel: str, currencies: Iterable[str]) -> None:
        specs = []
        for currency in sorted(set(currencies)):
            specs += [
                pb.AccountSpec(
                    account_id=suspense_account(channel, currency),
                    name=f"Reconciliation differences of {channel} (suspense)",
                    type=pb.ACCOUNT_TYPE_LIABILITY,
                    currency_code=currency,
                    owner_type=pb.OWNER_TYPE_CHANNEL,
                    owner_id=channel,
                    suspense=True,
                ),
                pb.AccountSpec(
                    account_id=write_off_account(currency),
                    name="Reconciliation differences written off",
                    type=pb.ACCOUNT_TYPE_EXPENSE,
                    currency_code=currency,
                    owner_type=pb.OWNER_TYPE_PLATFORM,
                ),
            ]
        if specs:
            await self._call(self._stub.CreateAccounts(pb.CreateAccountsRequest(accounts=specs)))

    async def park(self, found: Sequence[Discrepancy]) -> list[str]:
        """Posts each discrepancy's parking transfer (posted before: the same answer); the ids
        parked."""
        parked: list[str] = []
        for start in range(0, len(found), BATCH):
            batch = [d for d in found[start : start + BATCH] if d.suspense_amount]
            specs = [
                pb.TransferSpec(
                    transfer_id=d.suspense_transfer_id,
                    description=f"reconciliation {d.outcome.value} {d.finding.key}",
                    metadata={
                        "discrepancy_id": d.discrepancy_id,
                        "channel": d.channel,
                        "statement_date": d.statement_date.isoformat(),
                    },
                    postings=[_posting(d)],
                )
                for d in batch
            ]
            if not specs:
                continue
            response = await self._call(
                self._stub.CreateTransfers(pb.CreateTransfersRequest(transfers=specs))
            )
            raise_if_refused(response, "a suspense transfer")
            parked += [d.discrepancy_id for d in batch]
        return parked

    async def clear(self, found: Discrepancy, how: Resolution) -> None:
        """Clears the discrepancy's suspense item against the action's account, once."""
        if not found.suspense_amount:
            return
        response = await self._call(
            self._stub.ClearSuspenseItem(
                pb.ClearSuspenseItemRequest(
                    transfer_id=found.clearing_transfer_id,
                    item_id=found.suspense_item_id,
                    counter_account_id=how.counter_account_id,
                    reason=how.action.value.upper(),
                    business_reference=how.business_reference or found.discrepancy_id,
                )
            )
        )
        raise_if_not_cleared(response, found.suspense_item_id)

    async def _call(self, call: Awaitable[T]) -> T:
        return await ledger_call(call)


async def ledger_call(call: Awaitable[T]) -> T:
    """The ledger's answer; a call that failed is Unavailable."""
    try:
        return await call
    except grpc.aio.AioRpcError as exc:
        raise Unavailable(f"ledger: {exc.code().name}") from exc


def raise_if_not_cleared(response: pb.ClearSuspenseItemResponse, item_id: str) -> None:
    """LedgerRefused unless the item was cleared by this transfer, now or before."""
    if response.result not in _DONE:
        raise LedgerRefused(
            "the ledger refused to clear the suspense item",
            metadata={
                "item_id": item_id,
                "result": pb.CreateTransferResult.Name(response.result),
            },
        )


def raise_if_refused(response: pb.CreateTransfersResponse, what: str) -> None:
    """LedgerRefused naming the first transfer the ledger neither posted nor had."""
    refused = [r for r in response.results if r.result not in _DONE]
    if refused:
        raise LedgerRefused(
            f"the ledger refused {what}",
            metadata={
                "transfer_id": refused[0].transfer_id,
                "result": pb.CreateTransferResult.Name(refused[0].result),
            },
        )


def _posting(found: Discrepancy) -> pb.Posting:
    debit, credit, amount = found.parking()
    return pb.Posting(
        debit_account_id=debit,
        credit_account_id=credit,
        amount=money_to_proto(Money(found.currency, amount)),
    )
