"""The ledger as reserve account reconciliation uses it: what a channel's receivable was
booked on a date, what a payout was booked at, the reserve account's balance, and posting the
transfers a statement's entries and the channels' settlements call for."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

import grpc

from paysuite.errors import Unavailable
from paysuite.ledger.v1 import ledger_service_pb2 as pb
from paysuite.ledger.v1 import ledger_service_pb2_grpc as pb_grpc
from paysuite.money import Money
from paysuite.runtime.protoconv import date_to_proto, money_to_proto
from recon.adapters.suspense import (
    BATCH,
    GrpcSuspense,
    ledger_call,
    raise_if_not_cleared,
    raise_if_refused,
)
from recon.domain.funds import (
    TRANSFER_PREFIX,
    Clearing,
    FundsTransfer,
    reserve_account,
    reserve_suspense,
)

# Transfers of reconciliation itself, left out of what a channel's date is expected to settle
# (reconciliation's own parks are counted from its discrepancies).
_OWN_PREFIXES = (TRANSFER_PREFIX, "recon:")


class GrpcFundsLedger:
    def __init__(self, channel: grpc.aio.Channel, timeout_seconds: float = 60.0) -> None:
        self._stub = pb_grpc.LedgerServiceStub(channel)
        self._suspense = GrpcSuspense(channel, timeout_seconds)
        self._timeout = timeout_seconds

    async def open_accounts(self, channels: Iterable[str], currencies: Iterable[str]) -> None:
        """The reserve account, its suspense, and each channel's suspense (an account that
        exists already is left as it is)."""
        currencies = sorted(set(currencies))
        for channel in sorted(set(channels)):
            await self._suspense.open_accounts(channel, currencies)
        specs = []
        for currency in currencies:
            specs += [
                pb.AccountSpec(
                    account_id=reserve_account(currency),
                    name="Customer reserve funds (备付金)",
                    type=pb.ACCOUNT_TYPE_ASSET,
                    currency_code=currency,
                    owner_type=pb.OWNER_TYPE_PLATFORM,
                ),
                pb.AccountSpec(
                    account_id=reserve_suspense(currency),
                    name="Reserve account movements unexplained (suspense)",
                    type=pb.ACCOUNT_TYPE_LIABILITY,
                    currency_code=currency,
                    owner_type=pb.OWNER_TYPE_PLATFORM,
                    suspense=True,
                ),
            ]
        if specs:
            await ledger_call(self._stub.CreateAccounts(pb.CreateAccountsRequest(accounts=specs)))

    async def booked_on(self, account_id: str, day: date) -> int:
        """The account's business postings of the accounting date, debits less credits."""
        total = 0
        call = self._stub.StreamAccountEntries(
            pb.StreamAccountEntriesRequest(
                account_id=account_id, accounting_date=date_to_proto(day), batch_size=5000
            ),
            timeout=self._timeout,
        )
        try:
            async for batch in call:
                for e in batch.entries:
                    if e.transfer_id.startswith(_OWN_PREFIXES):
                        continue
                    sign = 1 if e.side == pb.ENTRY_SIDE_DEBIT else -1
                    total += sign * e.amount.minor_units
        except grpc.aio.AioRpcError as exc:
            if exc.code() is not grpc.StatusCode.NOT_FOUND:  # no such account: nothing booked
                raise Unavailable(f"ledger: {exc.code().name}") from exc
        return total

    async def payout_booked(self, payout_id: str, payouts_account: str) -> int | None:
        """What the ledger booked to the payouts account for a paid payout (amount and the
        bank's fee); None when it has no paid payout of that id."""
        amount = await self._credited(f"{payout_id}:payout", payouts_account)
        if amount is None:
            return None
        return amount + (await self._credited(f"{payout_id}:payout-fee", payouts_account) or 0)

    async def debited(self, transfer_id: str, account_id: str) -> int | None:
        """What the transfer debited the account, less what it credited it; None when the
        ledger has no transfer of that id."""
        postings = await self._postings(transfer_id)
        if postings is None:
            return None
        debits = sum(p.amount.minor_units for p in postings if p.debit_account_id == account_id)
        return debits - _credits(postings, account_id)

    async def _credited(self, transfer_id: str, account_id: str) -> int | None:
        postings = await self._postings(transfer_id)
        return None if postings is None else _credits(postings, account_id)

    async def _postings(self, transfer_id: str) -> Sequence[pb.Posting] | None:
        """The transfer's postings; None when the ledger has no transfer of that id."""
        try:
            answer = await self._stub.GetTransfer(
                pb.GetTransferRequest(transfer_id=transfer_id), timeout=self._timeout
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() is grpc.StatusCode.NOT_FOUND:
                return None
            raise Unavailable(f"ledger: {exc.code().name}") from exc
        return answer.transfer.postings

    async def balance(self, account_id: str) -> int:
        try:
            answer = await self._stub.GetAccount(
                pb.GetAccountRequest(account_id=account_id), timeout=self._timeout
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() is grpc.StatusCode.NOT_FOUND:
                return 0
            raise Unavailable(f"ledger: {exc.code().name}") from exc
        return int(answer.account.balance.minor_units)

    async def post(self, transfers: Sequence[FundsTransfer]) -> int:
        """Posts the transfers (posted before: the same answer); how many were new."""
        posted = 0
        for start in range(0, len(transfers), BATCH):
            specs = [_spec(t) for t in transfers[start : start + BATCH]]
            response = await ledger_call(
                self._stub.CreateTransfers(pb.CreateTransfersRequest(transfers=specs))
            )
            raise_if_refused(response, "a reserve account transfer")
            posted += sum(r.result == pb.CREATE_TRANSFER_RESULT_POSTED for r in response.results)
        return posted

    async def clear(self, clearing: Clearing) -> int:
        """Clears a parked suspense item to its counter account (cleared before: the same
        answer); 1 when cleared now."""
        response = await ledger_call(
            self._stub.ClearSuspenseItem(
                pb.ClearSuspenseItemRequest(
                    transfer_id=clearing.transfer_id,
                    item_id=clearing.item_id,
                    counter_account_id=clearing.counter_account_id,
                    reason=clearing.reason,
                    business_reference=clearing.business_reference,
                ),
                timeout=self._timeout,
            )
        )
        raise_if_not_cleared(response, clearing.item_id)
        return int(response.result == pb.CREATE_TRANSFER_RESULT_POSTED)


def _credits(postings: Sequence[pb.Posting], account_id: str) -> int:
    return sum(p.amount.minor_units for p in postings if p.credit_account_id == account_id)


def _spec(transfer: FundsTransfer) -> pb.TransferSpec:
    return pb.TransferSpec(
        transfer_id=transfer.transfer_id,
        description=transfer.description,
        metadata=transfer.metadata,
        postings=[
            pb.Posting(
                debit_account_id=p.debit,
                credit_account_id=p.credit,
                amount=money_to_proto(Money(transfer.currency, p.amount)),
            )
            for p in transfer.postings
        ],
    )
