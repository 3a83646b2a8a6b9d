"""LedgerPort over gRPC."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Sequence

import grpc

from gateway.domain.ports import HoldSettlement, LedgerTransfer
from paysuite import accounts
from paysuite.errors import Unavailable
from paysuite.ledger.v1 import ledger_service_pb2 as pb
from paysuite.ledger.v1 import ledger_service_pb2_grpc as pb_grpc
from paysuite.runtime.protoconv import money_to_proto

_PREFIX = "CREATE_TRANSFER_RESULT_"


class GrpcLedger:
    def __init__(self, channel: grpc.aio.Channel, timeout_seconds: float = 5.0) -> None:
        self._stub = pb_grpc.LedgerServiceStub(channel)
        self._timeout = timeout_seconds

    async def post(self, transfers: Sequence[LedgerTransfer]) -> dict[str, str]:
        request = pb.CreateTransfersRequest(
            transfers=[
                pb.TransferSpec(
                    transfer_id=t.transfer_id,
                    description=t.description,
                    metadata=t.metadata,
                    pending=t.pending,
                    postings=[
                        pb.Posting(
                            debit_account_id=p.debit_account_id,
                            credit_account_id=p.credit_account_id,
                            amount=money_to_proto(p.amount),
                        )
                        for p in t.postings
                    ],
                )
                for t in transfers
            ]
        )
        try:
            response = await self._stub.CreateTransfers(request, timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            raise Unavailable(f"ledger: {exc.code().name}") from exc
        return {
            r.transfer_id: pb.CreateTransferResult.Name(r.result).removeprefix(_PREFIX)
            for r in response.results
        }

    async def available(self, account_id: str) -> int:
        try:
            response = await self._stub.GetAccount(
                pb.GetAccountRequest(account_id=account_id), timeout=self._timeout
            )
        except grpc.aio.AioRpcError as exc:
            raise Unavailable(f"ledger: {exc.code().name}") from exc
        return response.account.available_balance.minor_units

    async def settle_holds(self, settlements: Sequence[HoldSettlement]) -> dict[str, str]:
        """Each hold posted or voided by a call of its own, the calls side by side."""

        async def settle(item: HoldSettlement) -> pb.CreateTransferResult.ValueType:
            if item.post:
                posted = await self._stub.PostPendingTransfer(
                    pb.PostPendingTransferRequest(
                        transfer_id=item.transfer_id, pending_transfer_id=item.pending_transfer_id
                    ),
                    timeout=self._timeout,
                )
                return posted.result
            voided = await self._stub.VoidPendingTransfer(
                pb.VoidPendingTransferRequest(
                    transfer_id=item.transfer_id, pending_transfer_id=item.pending_transfer_id
                ),
                timeout=self._timeout,
            )
            return voided.result

        try:
            results = await asyncio.gather(*(settle(item) for item in settlements))
        except grpc.aio.AioRpcError as exc:
            raise Unavailable(f"ledger: {exc.code().name}") from exc
        return {
            item.transfer_id: pb.CreateTransferResult.Name(result).removeprefix(_PREFIX)
            for item, result in zip(settlements, results, strict=True)
        }

    async def open_receivables(self, channels: Collection[str], currency: str) -> None:
        await self._open_channel_accounts(
            channels,
            currency,
            accounts.channel_receivable,
            "Receivable from",
            pb.ACCOUNT_TYPE_ASSET,
        )

    async def open_payout_accounts(self, channels: Collection[str], currency: str) -> None:
        await self._open_channel_accounts(
            channels, currency, accounts.channel_payouts, "Paid out by", pb.ACCOUNT_TYPE_LIABILITY
        )

    async def _open_channel_accounts(
        self,
        channels: Collection[str],
        currency: str,
        account_id: Callable[[str, str], str],
        name: str,
        kind: pb.AccountType.ValueType,
    ) -> None:
        specs = [
            pb.AccountSpec(
                account_id=account_id(channel, currency),
                name=f"{name} channel {channel}",
                type=kind,
                currency_code=currency,
                owner_type=pb.OWNER_TYPE_CHANNEL,
                owner_id=channel,
            )
            for channel in channels
        ]
        await self._open(specs)

    async def open_wallet(self, user_id: str, currency: str) -> None:
        spec = pb.AccountSpec(
            account_id=accounts.user_wallet(user_id, currency),
            name="Platform wallet",
            type=pb.ACCOUNT_TYPE_LIABILITY,
            currency_code=currency,
            owner_type=pb.OWNER_TYPE_USER,
            owner_id=user_id,
            debits_must_not_exceed_credits=True,
        )
        await self._open([spec])

    async def _open(self, specs: list[pb.AccountSpec]) -> None:
        """Creates the accounts; any that exist are left as they are (their results ignored)."""
        await self._stub.CreateAccounts(
            pb.CreateAccountsRequest(accounts=specs), timeout=self._timeout
        )
