"""LedgerPort over gRPC."""

from __future__ import annotations

from collections.abc import Collection

import grpc

from gateway.domain import accounts
from gateway.domain.ports import LedgerPosting
from paysuite.ledger.v1 import ledger_service_pb2 as pb
from paysuite.ledger.v1 import ledger_service_pb2_grpc as pb_grpc
from paysuite.runtime.protoconv import money_to_proto

_PREFIX = "CREATE_TRANSFER_RESULT_"


class GrpcLedger:
    def __init__(self, channel: grpc.aio.Channel, timeout_seconds: float = 5.0) -> None:
        self._stub = pb_grpc.LedgerServiceStub(channel)
        self._timeout = timeout_seconds

    async def post(
        self,
        transfer_id: str,
        postings: list[LedgerPosting],
        description: str,
        metadata: dict[str, str],
    ) -> str:
        spec = pb.TransferSpec(
            transfer_id=transfer_id,
            description=description,
            metadata=metadata,
            postings=[
                pb.Posting(
                    debit_account_id=p.debit_account_id,
                    credit_account_id=p.credit_account_id,
                    amount=money_to_proto(p.amount),
                )
                for p in postings
            ],
        )
        response = await self._stub.CreateTransfers(
            pb.CreateTransfersRequest(transfers=[spec]), timeout=self._timeout
        )
        return pb.CreateTransferResult.Name(response.results[0].result).removeprefix(_PREFIX)

    async def open_receivables(self, channels: Collection[str], currency: str) -> None:
        specs = [
            pb.AccountSpec(
                account_id=accounts.channel_receivable(channel, currency),
                name=f"Receivable from channel {channel}",
                type=pb.ACCOUNT_TYPE_ASSET,
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
