"""Running a reconciliation: fetch both sides, match, keep the differences."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from paysuite.errors import DomainError, ErrorKind, RequestIdReused
from paysuite.ids import new_id
from recon.domain.model import (
    OurRecord,
    ReconciliationRun,
    RunState,
    StatementFormatError,
    StatementLine,
    count,
    match,
)
from recon.service_layer.unit_of_work import UnitOfWorkFactory


class GatewayRecords(Protocol):
    async def records(self, channel: str, day: date) -> list[OurRecord]: ...

    async def statement(self, channel: str, day: date) -> bytes: ...


# Reads a channel's statement file; raises StatementFormatError on an incomplete or bad one.
StatementParser = Callable[[bytes], list[StatementLine]]


class StatementInvalid(DomainError):
    kind = ErrorKind.FAILED_PRECONDITION
    reason = "STATEMENT_INVALID"


@dataclass(frozen=True, slots=True)
class RunReconciliation:
    request_id: str
    channel: str
    statement_date: date


async def run_reconciliation(
    uow: UnitOfWorkFactory,
    gateway: GatewayRecords,
    parse_statement: StatementParser,
    command: RunReconciliation,
    clock: Callable[[], datetime],
) -> ReconciliationRun:
    """A new run per request id; the same request id returns its first run."""
    async with uow() as work:
        previous = await work.repo.by_request_id(command.request_id)
    if previous is not None:
        if (previous.channel, previous.statement_date) != (command.channel, command.statement_date):
            raise RequestIdReused("request_id was used for another run")
        return previous
    content = await gateway.statement(command.channel, command.statement_date)
    try:
        lines = parse_statement(content)
    except StatementFormatError as exc:
        raise StatementInvalid(
            "the channel statement could not be read", metadata={"channel": command.channel}
        ) from exc
    records = await gateway.records(command.channel, command.statement_date)
    results = match(lines, records)
    run = ReconciliationRun(
        run_id=new_id("rec"),
        request_id=command.request_id,
        channel=command.channel,
        statement_date=command.statement_date,
        state=RunState.COMPLETED,
        statement_rows=len(lines),
        our_records=len(records),
        counts=count(results),
        created_at=clock(),
    )
    async with uow() as work:
        if not await work.repo.add_run(run):
            await work.rollback()
            raced = await work.repo.by_request_id(command.request_id)
            assert raced is not None
            return raced
        await work.repo.add_differences(run.run_id, results)
        await work.commit()
    return run
