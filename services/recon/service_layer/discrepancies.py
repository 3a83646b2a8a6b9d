"""Reading runs and discrepancies, and resolving (核销) a discrepancy by a business action."""

from __future__ import annotations

from datetime import date, datetime
from typing import Protocol

from recon.domain.discrepancies import (
    Discrepancy,
    DiscrepancyNotFound,
    DiscrepancyState,
    Resolution,
    Resolve,
    resolution,
    resolved,
)
from recon.domain.matching import Outcome
from recon.domain.model import ReconciliationRun, RunNotFound
from recon.service_layer.unit_of_work import UnitOfWorkFactory


class Clearing(Protocol):
    async def clear(self, found: Discrepancy, how: Resolution) -> None: ...


async def get_run(uow: UnitOfWorkFactory, run_id: str) -> ReconciliationRun:
    async with uow() as work:
        run = await work.repo.get_run(run_id)
    if run is None:
        raise RunNotFound("run not found", metadata={"run_id": run_id})
    return run


async def list_runs(
    uow: UnitOfWorkFactory,
    channel: str,
    day: date | None,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[ReconciliationRun]:
    async with uow() as work:
        return await work.repo.list_runs(channel, day, after, limit)


async def list_discrepancies(
    uow: UnitOfWorkFactory,
    channel: str,
    day: date | None,
    outcome: Outcome | None,
    state: DiscrepancyState | None,
    after: tuple[date, str] | None,
    limit: int,
) -> list[Discrepancy]:
    async with uow() as work:
        return await work.repo.list_discrepancies(channel, day, outcome, state, after, limit)


async def resolve_discrepancy(
    uow: UnitOfWorkFactory, ledger: Clearing, command: Resolve, now: datetime, today: date
) -> Discrepancy:
    """Clears the discrepancy's suspense item against the action's account, then records the
    resolution; the clearing transfer is named after the discrepancy, so a retry after a
    failure in between clears nothing twice."""
    async with uow() as work:
        found = await work.repo.get_discrepancy(command.discrepancy_id)
    if found is None:
        raise DiscrepancyNotFound(
            "discrepancy not found", metadata={"discrepancy_id": command.discrepancy_id}
        )
    how = resolution(found, command, now, today)
    if how is None:
        return found
    if found.posted:
        await ledger.clear(found, how)
    done = resolved(found, how)
    async with uow() as work:
        current = await work.repo.get_discrepancy(command.discrepancy_id, for_update=True)
        assert current is not None
        if current.resolution is not None:  # resolved meanwhile (by a run, or another call)
            return current
        await work.repo.resolve(done, found.clearing_transfer_id if found.posted else "")
        await work.commit()
    return done
