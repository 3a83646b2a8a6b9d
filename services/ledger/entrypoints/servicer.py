"""LedgerService over gRPC: validate, call the use case, convert the answer."""

from __future__ import annotations

from typing import Any

import grpc

from ledger.entrypoints import convert
from ledger.service_layer import handlers
from ledger.service_layer.handlers import Clock
from ledger.service_layer.unit_of_work import UnitOfWorkFactory
from paysuite.errors import Violations
from paysuite.ledger.v1 import ledger_service_pb2 as pb
from paysuite.ledger.v1 import ledger_service_pb2_grpc as pb_grpc
from paysuite.runtime.protoconv import check_id, date_to_proto

Context = grpc.aio.ServicerContext[Any, Any]


class LedgerServicer(pb_grpc.LedgerServiceServicer):
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def CreateAccounts(
        self, request: pb.CreateAccountsRequest, context: Context
    ) -> pb.CreateAccountsResponse:
        specs = convert.account_specs(request)
        results = await handlers.create_accounts(self._uow, specs, self._clock)
        return pb.CreateAccountsResponse(
            results=[
                pb.CreateAccountsResult(account_id=s.account_id, result=convert.ACCOUNT_RESULTS[r])
                for s, r in zip(specs, results, strict=True)
            ]
        )

    async def CreateTransfers(
        self, request: pb.CreateTransfersRequest, context: Context
    ) -> pb.CreateTransfersResponse:
        transfers = convert.transfer_requests(request)
        outcomes = await handlers.create_transfers(self._uow, transfers, self._clock)
        return pb.CreateTransfersResponse(
            results=[
                pb.CreateTransfersResult(
                    transfer_id=o.transfer_id,
                    result=convert.TRANSFER_RESULTS[o.result],
                    accounting_date=date_to_proto(o.accounting_date),
                )
                for o in outcomes
            ]
        )

    async def GetAccount(
        self, request: pb.GetAccountRequest, context: Context
    ) -> pb.GetAccountResponse:
        violations = Violations()
        check_id(request.account_id, "account_id", violations, max_length=128)
        violations.raise_if_any()
        account = await handlers.get_account(self._uow, request.account_id)
        return pb.GetAccountResponse(account=convert.account_to_proto(account))
