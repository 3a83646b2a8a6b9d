"""Clearing (清算) a trade date once its reconciliation is clean: every channel's records
added up per merchant and per channel, the adjustments of resolved differences added, a line
per merchant booked out of its payable; then what is due paid."""

from __future__ import annotations

import logging
from datetime import date

from recon.domain.settlement import (
    BatchState,
    ReconciliationNotClean,
    SettlementBatch,
    SettlementSettings,
    batch_id_of,
    clear,
)
from recon.domain.settlement_postings import clearing_transfers, coupon_funding_transfers
from recon.domain.settlement_tally import Tally
from recon.service_layer.settlement_deps import SettlementDeps
from recon.service_layer.settlement_payouts import pay_due

_log = logging.getLogger(__name__)


async def run_clearing(deps: SettlementDeps, trade_date: date, settle_on: date | None) -> str:
    """Clears the date (once), books its lines (once) and pays what is due by settle_on
    (today when None); the batch's id."""
    batch_id = batch_id_of(trade_date)
    async with deps.uow() as work:
        batch = await work.repo.get_batch(batch_id)
    if batch is None:
        batch = await _make_batch(deps, trade_date)
    if batch.state is BatchState.CLEARING:
        await _book(deps, batch)
    await pay_due(deps, batch_id, settle_on or deps.today())
    return batch_id


async def _tally(deps: SettlementDeps, trade_date: date) -> Tally:
    """The date's records added up; refuses a date whose reconciliation is not clean."""
    tally = Tally()
    problems: list[str] = []
    for channel in deps.channels:
        seen = 0
        async for batch in deps.records.records(channel, trade_date):
            seen += len(batch)
            for record in batch:
                tally.add(record)
        if channel in deps.unreconciled:
            continue
        async with deps.uow() as work:
            reconciled = await work.repo.reconciled(channel, trade_date)
            open_items = await work.repo.open_differences(channel, trade_date)
        if seen and not reconciled:
            problems.append(f"{channel}: not reconciled")
        if open_items:
            problems.append(f"{channel}: {open_items} open differences")
    if problems:
        raise ReconciliationNotClean(
            "the date's reconciliation is not clean",
            metadata={"trade_date": trade_date.isoformat(), "channels": "; ".join(problems)},
        )
    async with deps.uow() as work:
        for merchant, currency, amount in await work.repo.adjustments(trade_date):
            tally.adjust(merchant, currency, amount)
    return tally


async def _make_batch(deps: SettlementDeps, trade_date: date) -> SettlementBatch:
    tally = await _tally(deps, trade_date)
    batch_id = batch_id_of(trade_date)
    now = deps.clock()
    async with deps.uow() as work:
        await work.repo.lock_batch(trade_date)
        made = await work.repo.get_batch(batch_id)
        if made is not None:  # another run made it meanwhile
            return made
        settings = await work.repo.settings_of(m for m, _ in tally.merchants)
        lines = [
            clear(
                batch_id,
                trade_date,
                totals,
                settings.get(totals.merchant_id) or SettlementSettings(totals.merchant_id),
                deps.calendar,
            )
            for _, totals in sorted(tally.merchants.items())
        ]
        batch = SettlementBatch(batch_id, trade_date, BatchState.CLEARING, now, now)
        await work.repo.add_batch(batch, lines, [c for _, c in sorted(tally.channels.items())])
        await work.commit()
    _log.info(
        "settlement batch made",
        extra={"batch_id": batch_id, "merchants": len(lines), "channels": len(tally.channels)},
    )
    return batch


async def _book(deps: SettlementDeps, batch: SettlementBatch) -> None:
    """Posts every line's clearing transfers and the date's coupons funding (posted before:
    nothing new), then marks the batch cleared."""
    async with deps.uow() as work:
        lines = await work.repo.lines_of(batch.batch_id)
    await deps.books.open_accounts(sorted({(line.merchant_id, line.currency) for line in lines}))
    await deps.books.post(
        [
            *(t for line in lines for t in clearing_transfers(line)),
            *coupon_funding_transfers(batch.trade_date, lines),
        ]
    )
    async with deps.uow() as work:
        await work.repo.set_batch_state(batch.batch_id, BatchState.CLEARED, deps.clock())
        await work.commit()
