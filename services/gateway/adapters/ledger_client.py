"""LedgerPort over gRPC."""

from __future__ import annotations

from collections.abc import Collection, Sequence

import grpc

from gateway.domain.ports import LedgerTransfer
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
