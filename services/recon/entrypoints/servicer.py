"""ReconService over gRPC: validate, run, convert the answer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import grpc

from paysuite.errors import Violations
from paysuite.recon.v1 import recon_service_pb2 as pb
from paysuite.recon.v1 import recon_service_pb2_grpc as pb_grpc
from paysuite.runtime.protoconv import check_id, date_from_proto, date_to_proto, timestamp
from recon.domain.model import Outcome, ReconciliationRun, RunState
from recon.entrypoints import statements
from recon.service_layer import handlers, imports
from recon.service_layer.handlers import GatewayRecords, RunReconciliation, StatementParser
from recon.service_layer.imports import ReaderFactory
from recon.service_layer.unit_of_work import StatementUnitOfWorkFactory, UnitOfWorkFactory

Context = grpc.aio.ServicerContext[Any, Any]

OUTCOMES = {
    Outcome.MATCHED: pb.MATCH_OUTCOME_MATCHED,
    Outcome.LONG: pb.MATCH_OUTCOME_LONG,
    Outcome.SHORT: pb.MATCH_OUTCOME_SHORT,
    Outcome.AMOUNT_MISMATCH: pb.MATCH_OUTCOME_AMOUNT_MISMATCH,
}
STATES = {
    RunState.RUNNING: pb.ReconciliationRun.STATE_RUNNING,
    RunState.COMPLETED: pb.ReconciliationRun.STATE_COMPLETED,
    RunState.FAILED: pb.ReconciliationRun.STATE_FAILED,
}


def run_to_proto(run: ReconciliationRun) -> pb.ReconciliationRun:
    return pb.ReconciliationRun(
        run_id=run.run_id,
        channel=run.channel,
        statement_date=date_to_proto(run.statement_date),
        state=STATES[run.state],
        statement_rows=run.statement_rows,
        our_records=run.our_records,
        outcome_counts=[
            pb.OutcomeCount(outcome=OUTCOMES[o], count=n)
            for o, n in sorted(run.counts.items(), key=lambda i: OUTCOMES[i[0]])
        ],
        create_time=timestamp(run.created_at),
    )


@dataclass(frozen=True)
class StatementImports:
    """What ImportStatement needs: its units of work, the importers, a spool per upload."""

    uow: StatementUnitOfWorkFactory
    open_reader: ReaderFactory
    new_spool: Callable[[], statements.Spool]


class ReconServicer(pb_grpc.ReconServiceServicer):
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        gateway: GatewayRecords,
        parse_statement: StatementParser,
        clock: Callable[[], datetime],
        statement_imports: StatementImports,
    ) -> None:
        self._uow = uow
        self._gateway = gateway
        self._parse_statement = parse_statement
        self._clock = clock
        self._imports = statement_imports

    async def RunReconciliation(
        self, request: pb.RunReconciliationRequest, context: Context
    ) -> pb.RunReconciliationResponse:
        violations = Violations()
        check_id(request.request_id, "request_id", violations)
        check_id(request.channel, "channel", violations, max_length=32)
        day = date_from_proto(request.statement_date, "statement_date", violations)
        violations.raise_if_any()
        assert day is not None
        run = await handlers.run_reconciliation(
            self._uow,
            self._gateway,
            self._parse_statement,
            RunReconciliation(request.request_id, request.channel, day),
            self._clock,
        )
        return pb.RunReconciliationResponse(run=run_to_proto(run))

    async def ImportStatement(
        self, request_iterator: AsyncIterator[pb.ImportStatementRequest], context: Context
    ) -> pb.ImportStatementResponse:
        with closing(self._imports.new_spool()) as spool:
            command = await statements.receive(request_iterator, spool)
            imported, replayed = await imports.import_statement(
                self._imports.uow, self._imports.open_reader, command, spool, self._clock
            )
        return pb.ImportStatementResponse(
            statement_import=statements.import_to_proto(imported), replayed=replayed
        )
