"""LedgerService over gRPC: validate, call the use case, present the answer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import grpc

from ledger.domain.book import Outcome, Request
from ledger.domain.records import SuspenseState
from ledger.entrypoints import convert, present
from ledger.service_layer import day_cycle, feed, queries, transfers
from ledger.service_layer.group_commit import GroupCommit
from ledger.service_layer.pipeline import PostingPipeline
from ledger.service_layer.transfers import Clock
from ledger.service_layer.unit_of_work import LedgerUnits
from paysuite.errors import Violations
from paysuite.ledger.v1 import ledger_service_pb2 as pb
from paysuite.ledger.v1 import ledger_service_pb2_grpc as pb_grpc
from paysuite.runtime.paging import PageSize, Paging
from paysuite.runtime.protoconv import (
    check_id,
    date_from_proto,
    date_to_proto,
    timestamp_from_proto,
)

Context = grpc.aio.ServicerContext[Any, Any]
PAGE = PageSize(default=100, maximum=1000)
STREAM_BATCH = PageSize(default=5000, maximum=20000)


def _account_id(value: str) -> None:
    violations = Violations()
    check_id(value, "account_id", violations, max_length=128)
    violations.raise_if_any()


def _result(outcome: Outcome) -> tuple[pb.CreateTransferResult.ValueType, Any]:
    return convert.TRANSFER_RESULTS[outcome.result], date_to_proto(outcome.accounting_date)


class LedgerServicer(pb_grpc.LedgerServiceServicer):
    def __init__(self, units: LedgerUnits, clock: Clock, paging: Paging) -> None:
        self._units = units
        self._paging = paging
        self._uow = units.postings
        self._clock = clock
        self._pipeline = PostingPipeline(units, clock)
        self._group = GroupCommit(self._pipeline.run)

    async def _post_one(self, command: Request) -> Outcome:
        (outcome,) = await self._pipeline.run([command])
        return outcome

    async def CreateAccounts(
        self, request: pb.CreateAccountsRequest, context: Context
    ) -> pb.CreateAccountsResponse:
        specs = convert.account_specs(request)
        results = await transfers.create_accounts(self._uow, specs, self._clock)
        return pb.CreateAccountsResponse(
            results=[
                pb.CreateAccountsResult(account_id=s.account_id, result=convert.ACCOUNT_RESULTS[r])
                for s, r in zip(specs, results, strict=True)
            ]
        )

    async def CreateTransfers(
        self, request: pb.CreateTransfersRequest, context: Context
    ) -> pb.CreateTransfersResponse:
        outcomes = await self._group.submit(convert.transfer_requests(request))
        return present.transfer_results(outcomes)

    async def GetAccount(
        self, request: pb.GetAccountRequest, context: Context
    ) -> pb.GetAccountResponse:
        _account_id(request.account_id)
        account = await queries.get_account(self._uow, request.account_id)
        return pb.GetAccountResponse(account=present.account(account))

    async def ListAccounts(
        self, request: pb.ListAccountsRequest, context: Context
    ) -> pb.ListAccountsResponse:
        violations = Violations()
        page = self._paging.page(request, PAGE, violations, (str,))
        check_id(request.owner_id, "owner_id", violations, required=False)
        violations.raise_if_any()
        owner = convert.OWNER_TYPES.get(request.owner_type)
        (after,) = page.after or ("",)
        found = await queries.list_accounts(
            self._uow, owner, request.owner_id, after, page.size + 1
        )
        accounts, token = page.cut(found, lambda a: (a.account_id,))
        return pb.ListAccountsResponse(
            accounts=[present.account(a) for a in accounts], next_page_token=token
        )

    async def GetTransfer(
        self, request: pb.GetTransferRequest, context: Context
    ) -> pb.GetTransferResponse:
        violations = Violations()
        check_id(request.transfer_id, "transfer_id", violations, max_length=128)
        violations.raise_if_any()
        record = await queries.get_transfer(self._uow, request.transfer_id)
        return pb.GetTransferResponse(transfer=present.transfer(record))

    async def PostPendingTransfer(
        self, request: pb.PostPendingTransferRequest, context: Context
    ) -> pb.PostPendingTransferResponse:
        outcome = await self._post_one(convert.post_pending(request))
        result, day = _result(outcome)
        return pb.PostPendingTransferResponse(result=result, accounting_date=day)

    async def VoidPendingTransfer(
        self, request: pb.VoidPendingTransferRequest, context: Context
    ) -> pb.VoidPendingTransferResponse:
        outcome = await self._post_one(convert.void_pending(request))
        return pb.VoidPendingTransferResponse(result=convert.TRANSFER_RESULTS[outcome.result])

    async def ReverseTransfer(
        self, request: pb.ReverseTransferRequest, context: Context
    ) -> pb.ReverseTransferResponse:
        outcome = await self._post_one(convert.reverse(request))
        result, day = _result(outcome)
        return pb.ReverseTransferResponse(result=result, accounting_date=day)

    async def ListAccountEntries(
        self, request: pb.ListAccountEntriesRequest, context: Context
    ) -> pb.ListAccountEntriesResponse:
        violations = Violations()
        check_id(request.account_id, "account_id", violations, max_length=128)
        page = self._paging.page(request, PAGE, violations, (int,))
        violations.raise_if_any()
        (after,) = page.after or (0,)
        found, split = await queries.list_entries(
            self._uow, request.account_id, after, page.size + 1
        )
        entries, token = page.cut(found, lambda e: (e.entry_id,))
        return pb.ListAccountEntriesResponse(
            entries=[present.entry(e, split) for e in entries], next_page_token=token
        )

    async def StreamAccountEntries(
        self, request: pb.StreamAccountEntriesRequest, context: Context
    ) -> AsyncIterator[pb.StreamAccountEntriesResponse]:
        violations = Violations()
        check_id(request.account_id, "account_id", violations, max_length=128)
        day = date_from_proto(request.accounting_date, "accounting_date", violations)
        batch = STREAM_BATCH.clamp(request.batch_size, violations, "batch_size")
        violations.raise_if_any()
        assert day is not None
        async for found, split in queries.entries_of_date(
            self._uow, request.account_id, day, batch
        ):
            yield pb.StreamAccountEntriesResponse(entries=[present.entry(e, split) for e in found])

    async def GetBalanceAsOf(
        self, request: pb.GetBalanceAsOfRequest, context: Context
    ) -> pb.GetBalanceAsOfResponse:
        violations = Violations()
        check_id(request.account_id, "account_id", violations, max_length=128)
        which = request.WhichOneof("as_of")
        at: Any = None
        if which == "accounting_date":
            at = date_from_proto(request.accounting_date, "accounting_date", violations)
        elif which == "time":
            at = timestamp_from_proto(request.time, "time", violations)
        else:
            violations.add("as_of", "give accounting_date or time")
        violations.raise_if_any()
        account = await queries.get_account(self._uow, request.account_id)
        found = await queries.balance_as_of(self._uow, request.account_id, at)
        return pb.GetBalanceAsOfResponse(
            balance=present.money_in(account.spec.currency, found.balance),
            last_entry_id=found.last_entry_id,
        )

    async def GetBusinessDate(
        self, request: pb.GetBusinessDateRequest, context: Context
    ) -> pb.GetBusinessDateResponse:
        business, closed = await queries.business_date(self._uow)
        response = pb.GetBusinessDateResponse(business_date=date_to_proto(business))
        if closed is not None:
            response.last_closed_date.CopyFrom(date_to_proto(closed))
        return response

    async def RunDayCut(
        self, request: pb.RunDayCutRequest, context: Context
    ) -> pb.RunDayCutResponse:
        violations = Violations()
        check_id(request.request_id, "request_id", violations)
        expected = None
        if request.HasField("expected_business_date"):
            expected = date_from_proto(
                request.expected_business_date, "expected_business_date", violations
            )
        violations.raise_if_any()
        cut, new = await day_cycle.day_cut(self._units, request.request_id, expected, self._clock)
        return pb.RunDayCutResponse(cut_date=date_to_proto(cut), business_date=date_to_proto(new))

    async def RunDayEnd(
        self, request: pb.RunDayEndRequest, context: Context
    ) -> pb.RunDayEndResponse:
        violations = Violations()
        day = date_from_proto(request.accounting_date, "accounting_date", violations)
        violations.raise_if_any()
        assert day is not None
        report = await day_cycle.run_day_end(self._units, day, self._clock)
        return pb.RunDayEndResponse(report=present.report(report))

    async def GetTrialBalance(
        self, request: pb.GetTrialBalanceRequest, context: Context
    ) -> pb.GetTrialBalanceResponse:
        violations = Violations()
        day = date_from_proto(request.accounting_date, "accounting_date", violations)
        violations.raise_if_any()
        assert day is not None
        report = await day_cycle.trial_balance(self._units, day)
        return pb.GetTrialBalanceResponse(report=present.report(report))

    async def ListSuspenseItems(
        self, request: pb.ListSuspenseItemsRequest, context: Context
    ) -> pb.ListSuspenseItemsResponse:
        violations = Violations()
        page = self._paging.page(request, PAGE, violations, (datetime, str))
        violations.raise_if_any()
        state = {
            pb.SuspenseItem.STATE_OPEN: SuspenseState.OPEN,
            pb.SuspenseItem.STATE_CLEARED: SuspenseState.CLEARED,
        }.get(request.state)
        found = await queries.list_items(self._uow, state, page.after, page.size + 1)
        items, token = page.cut(found, lambda i: (i.created_at, i.item_id))
        return pb.ListSuspenseItemsResponse(
            items=[present.item(i) for i in items], next_page_token=token
        )

    async def ClearSuspenseItem(
        self, request: pb.ClearSuspenseItemRequest, context: Context
    ) -> pb.ClearSuspenseItemResponse:
        command = convert.clear_suspense(request)
        outcome = await self._post_one(command)
        item = await queries.get_item(self._uow, command.item_id)
        return pb.ClearSuspenseItemResponse(
            result=convert.TRANSFER_RESULTS[outcome.result], item=present.item(item)
        )

    async def WatchEntries(
        self, request: pb.WatchEntriesRequest, context: Context
    ) -> AsyncIterator[pb.WatchEntriesResponse]:
        violations = Violations()
        check_id(request.account_id, "account_id", violations, max_length=128, required=False)
        violations.raise_if_any()
        after = feed.Position.parse(request.after_position)
        async for position, entry in feed.watch(self._uow, after, request.account_id):
            yield pb.WatchEntriesResponse(entry=present.entry(entry), position=position.token())
