"""ReconService over gRPC: validate, run, convert the answer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import closing
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import grpc

from paysuite.errors import Violations
from paysuite.recon.v1 import recon_service_pb2 as pb
from paysuite.recon.v1 import recon_service_pb2_grpc as pb_grpc
from paysuite.runtime.paging import Paging
from paysuite.runtime.protoconv import check_id, date_from_proto
from recon.domain.merchant_statement import to_csv
from recon.entrypoints import convert, statements
from recon.service_layer import discrepancies, imports, runs
from recon.service_layer.discrepancies import Clearing
from recon.service_layer.imports import ReaderFactory
from recon.service_layer.merchant_statements import MerchantBook, merchant_statement
from recon.service_layer.runs import OUR_ZONE, RunDeps, RunReconciliation
from recon.service_layer.unit_of_work import StatementUnitOfWorkFactory

Context = grpc.aio.ServicerContext[Any, Any]


@dataclass(frozen=True)
class StatementImports:
    """What ImportStatement needs: its units of work, the importers, a spool per upload."""

    uow: StatementUnitOfWorkFactory
    open_reader: ReaderFactory
    new_spool: Callable[[], statements.Spool]


class ReconServicer(pb_grpc.ReconServiceServicer):
    def __init__(
        self,
        deps: RunDeps,
        statement_imports: StatementImports,
        ledger: Clearing,
        paging: Paging,
        merchant_book: MerchantBook,
    ) -> None:
        self._deps = deps
        self._imports = statement_imports
        self._ledger = ledger
        self._paging = paging
        self._merchant_book = merchant_book

    @property
    def _clock(self) -> Callable[[], datetime]:
        return self._deps.clock

    async def RunReconciliation(
        self, request: pb.RunReconciliationRequest, context: Context
    ) -> pb.RunReconciliationResponse:
        violations = Violations()
        check_id(request.request_id, "request_id", violations)
        check_id(request.channel, "channel", violations, max_length=32)
        day = date_from_proto(request.statement_date, "statement_date", violations)
        violations.raise_if_any()
        assert day is not None
        run = await runs.run_reconciliation(
            self._deps, RunReconciliation(request.request_id, request.channel, day)
        )
        return pb.RunReconciliationResponse(run=convert.run_to_proto(run))

    async def GetRun(self, request: pb.GetRunRequest, context: Context) -> pb.GetRunResponse:
        run = await discrepancies.get_run(self._deps.uow, convert.run_id(request.run_id))
        return pb.GetRunResponse(run=convert.run_to_proto(run))

    async def ListRuns(self, request: pb.ListRunsRequest, context: Context) -> pb.ListRunsResponse:
        channel, day, page = convert.list_runs_query(request, self._paging)
        found = await discrepancies.list_runs(
            self._deps.uow, channel, day, page.after, page.size + 1
        )
        shown, token = page.cut(found, lambda r: (r.created_at, r.run_id))
        return pb.ListRunsResponse(
            runs=[convert.run_to_proto(r) for r in shown], next_page_token=token
        )

    async def ListDiscrepancies(
        self, request: pb.ListDiscrepanciesRequest, context: Context
    ) -> pb.ListDiscrepanciesResponse:
        channel, day, outcome, state, page = convert.list_discrepancies_query(request, self._paging)
        after = None
        if page.after is not None:
            after = (date.fromisoformat(page.after[0]), page.after[1])
        found = await discrepancies.list_discrepancies(
            self._deps.uow, channel, day, outcome, state, after, page.size + 1
        )
        shown, token = page.cut(found, lambda d: (d.statement_date.isoformat(), d.discrepancy_id))
        return pb.ListDiscrepanciesResponse(
            discrepancies=[convert.discrepancy_to_proto(d) for d in shown],
            next_page_token=token,
        )

    async def ResolveDiscrepancy(
        self, request: pb.ResolveDiscrepancyRequest, context: Context
    ) -> pb.ResolveDiscrepancyResponse:
        command = convert.resolve_command(request)
        now = self._clock()
        done = await discrepancies.resolve_discrepancy(
            self._deps.uow, self._ledger, command, now, now.astimezone(OUR_ZONE).date()
        )
        return pb.ResolveDiscrepancyResponse(discrepancy=convert.discrepancy_to_proto(done))

    async def ImportStatement(
        self, request_iterator: AsyncIterator[pb.ImportStatementRequest], context: Context
    ) -> pb.ImportStatementResponse:
        with closing(self._imports.new_spool()) as spool:
            command = await statements.receive(request_iterator, spool)
            imported = await imports.import_statement(
                self._imports.uow, self._imports.open_reader, command, spool, self._clock
            )
        # A file replaced since is not reconciled again: the day stays on the current import.
        again = (
            await runs.reconcile_again(self._deps, imported.file) if imported.is_current else None
        )
        return pb.ImportStatementResponse(
            statement_import=statements.import_to_proto(imported.file),
            replayed=imported.replayed,
            run=convert.run_to_proto(again) if again else None,
            current_import_id=imported.current.import_id,
        )

    async def GetMerchantStatement(
        self, request: pb.GetMerchantStatementRequest, context: Context
    ) -> pb.GetMerchantStatementResponse:
        merchant_id, day, currency = convert.merchant_statement_query(request)
        statement = await merchant_statement(
            self._deps.uow,
            self._merchant_book,
            merchant_id,
            day,
            currency,
            self._deps.config.ledger_books,
        )
        return pb.GetMerchantStatementResponse(
            statement=convert.merchant_statement_to_proto(statement), csv=to_csv(statement)
        )
