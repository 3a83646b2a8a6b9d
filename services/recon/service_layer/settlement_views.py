"""Reading settlement: a batch with its lines' payouts (open ones followed first), lists of
batches and payouts, a batch's statement, and merchants' settings."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from recon.domain.settlement import (
    ChannelTotals,
    PayoutState,
    SettlementBatch,
    SettlementBatchNotFound,
    SettlementLine,
    SettlementPayout,
    SettlementSettings,
)
from recon.domain.settlement_statement import statement_csv
from recon.service_layer.settlement_deps import SettlementDeps, SettlementUnitOfWork
from recon.service_layer.settlement_payouts import follow_payout


@dataclass(frozen=True)
class BatchView:
    batch: SettlementBatch
    lines: list[tuple[SettlementLine, SettlementPayout | None]]
    channels: list[ChannelTotals]
    payouts: list[SettlementPayout]


async def _lines_with_payouts(
    work: SettlementUnitOfWork, batch_id: str, merchant_id: str = ""
) -> list[tuple[SettlementLine, SettlementPayout | None]]:
    lines = await work.repo.lines_of(batch_id, merchant_id)
    payouts = await work.repo.payouts_paying(lines)
    return [
        (
            line,
            payouts.get((line.merchant_id, line.currency, line.paid_on)) if line.paid_on else None,
        )
        for line in lines
    ]


async def _existing(work: SettlementUnitOfWork, batch_id: str) -> SettlementBatch:
    batch = await work.repo.get_batch(batch_id)
    if batch is None:
        raise SettlementBatchNotFound("settlement batch not found", metadata={"batch_id": batch_id})
    return batch


async def batch_view(deps: SettlementDeps, batch_id: str) -> BatchView:
    async with deps.uow() as work:
        await _existing(work, batch_id)
        payouts = await work.repo.payouts_of_batch(batch_id)
    for payout in payouts:
        if payout.state.open:
            await follow_payout(deps, payout)
    async with deps.uow() as work:
        return BatchView(
            await _existing(work, batch_id),
            await _lines_with_payouts(work, batch_id),
            await work.repo.channels_of(batch_id),
            await work.repo.payouts_of_batch(batch_id),
        )


async def list_batches(
    deps: SettlementDeps, after: tuple[date, str] | None, limit: int
) -> list[SettlementBatch]:
    async with deps.uow() as work:
        return await work.repo.list_batches(after, limit)


async def list_payouts(
    deps: SettlementDeps,
    merchant_id: str,
    state: PayoutState | None,
    after: tuple[date, str] | None,
    limit: int,
) -> list[SettlementPayout]:
    async with deps.uow() as work:
        return await work.repo.list_payouts(merchant_id, state, after, limit)


async def statement(deps: SettlementDeps, batch_id: str, merchant_id: str) -> str:
    async with deps.uow() as work:
        await _existing(work, batch_id)
        return statement_csv(await _lines_with_payouts(work, batch_id, merchant_id))


async def get_settings(deps: SettlementDeps, merchant_id: str) -> SettlementSettings:
    async with deps.uow() as work:
        return await work.repo.get_settings(merchant_id) or SettlementSettings(merchant_id)


async def update_settings(
    deps: SettlementDeps, merchant_id: str, changes: dict[str, object]
) -> SettlementSettings:
    """Changes the named fields (creating the merchant's settings from the defaults)."""
    now = deps.clock()
    async with deps.uow() as work:
        current = await work.repo.get_settings(merchant_id) or SettlementSettings(merchant_id)
        updated = replace(current, **changes, updated_at=now)  # type: ignore[arg-type]
        await work.repo.save_settings(updated, now)
        await work.commit()
    return updated
