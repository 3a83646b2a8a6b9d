"""Settlement (结算): what is due to each merchant on a settlement date moved to settling and
paid through the gateway's payouts, followed until the bank answers, and paid again on
request when it failed or came back (退票)."""

from __future__ import annotations

import logging
from datetime import date

from recon.domain.settlement import (
    GatewayPayout,
    PayoutState,
    SettlementPayout,
    SettlementPayoutNotFound,
    SettlementSettings,
    followed,
    held,
    parse_payout_id,
    paying,
    plan_payout,
)
from recon.domain.settlement_postings import payout_transfers
from recon.service_layer.settlement_deps import SettlementDeps

_log = logging.getLogger(__name__)
FOLLOW_BATCH = 100


async def pay_due(deps: SettlementDeps, batch_id: str, on: date) -> None:
    """Pays every merchant what is due by the date, one payout per merchant and currency."""
    async with deps.uow() as work:
        due = await work.repo.due_merchants(on)
    for merchant, currency in due:
        payout = await _settle(deps, batch_id, merchant, currency, on)
        if payout is not None and payout.state is PayoutState.PENDING:
            await _pay(deps, payout)


async def _settle(
    deps: SettlementDeps, batch_id: str, merchant: str, currency: str, on: date
) -> SettlementPayout | None:
    """The merchant's payout of the date: made now (its lines taken, its transfers posted)
    unless it was made before; None when nothing is to be paid (the due lines held)."""
    async with deps.uow() as work:
        existing = await work.repo.get_payout(merchant, currency, on, for_update=True)
        if existing is not None:
            return existing
        settings = await work.repo.get_settings(merchant) or SettlementSettings(merchant)
        lines = await work.repo.unpaid_lines(merchant, currency)
        unpaid = [line for line in lines if line.paid_on is None]
        now = deps.clock()
        plan = plan_payout(unpaid, lines, settings, on)
        if plan is None:
            await work.repo.save_lines(held(unpaid, on), now)
            await work.commit()
            return None
        payout = SettlementPayout(
            merchant,
            currency,
            on,
            batch_id,
            plan.amount,
            plan.reserve_released,
            plan.advanced,
            now,
            now,
        )
        await work.repo.add_payout(payout)
        await work.repo.save_lines(paying(plan), now)
        # Posted while the lines are locked: a failure rolls the payout back, and the same
        # plan again posts the same transfers, which the ledger answers as posted before.
        await deps.books.post(payout_transfers(plan))
        await work.commit()
    return payout


async def _pay(deps: SettlementDeps, payout: SettlementPayout) -> SettlementPayout:
    """Asks the gateway to pay the payout's current attempt and keeps its answer."""
    async with deps.uow() as work:
        settings = await work.repo.get_settings(payout.merchant_id)
    if settings is None or not settings.has_account:
        return payout
    seen = await deps.payouts.pay(payout, settings)
    return await _keep(deps, payout, seen)


async def _keep(
    deps: SettlementDeps, payout: SettlementPayout, seen: GatewayPayout
) -> SettlementPayout:
    """Keeps what the gateway said of the payout's attempt (a newer attempt: left alone)."""
    now = deps.clock()
    async with deps.uow() as work:
        current = await work.repo.get_payout(
            payout.merchant_id, payout.currency, payout.settlement_date, for_update=True
        )
        if current is None or current.attempt != payout.attempt:
            return current or payout
        updated = followed(current, seen, now)
        if updated is current:
            return current
        await work.repo.save_payout(updated)
        await work.commit()
    _report(current, updated)
    return updated


def _report(before: SettlementPayout, after: SettlementPayout) -> None:
    if after.state is before.state:
        return
    extra = {
        "settlement_payout_id": after.settlement_payout_id,
        "payout_id": after.payout_id,
        "state": after.state.value,
        "amount": after.amount,
    }
    if after.state is PayoutState.RETURNED:
        _log.warning(
            "settlement payout returned: to be paid again",
            extra={**extra, "return_reason": after.return_reason},
        )
    elif after.state is PayoutState.FAILED:
        _log.warning(
            "settlement payout failed", extra={**extra, "failure_reason": after.failure_reason}
        )
    else:
        _log.info("settlement payout changed", extra=extra)


async def retry_payout(deps: SettlementDeps, settlement_payout_id: str) -> SettlementPayout:
    """Pays a failed or returned settlement payout again, under its next request id."""
    key = parse_payout_id(settlement_payout_id)
    async with deps.uow() as work:
        found = await work.repo.get_payout(*key, for_update=True) if key else None
        if found is None:
            raise SettlementPayoutNotFound(
                "settlement payout not found",
                metadata={"settlement_payout_id": settlement_payout_id},
            )
        payout = found.retried(deps.clock())
        await work.repo.save_payout(payout)
        await work.commit()
    return await _pay(deps, payout)


async def follow_payout(deps: SettlementDeps, payout: SettlementPayout) -> SettlementPayout:
    """The payout as the gateway has it now: a pending one asked for again (same request id),
    a processing one looked up."""
    if payout.state is PayoutState.PENDING:
        return await _pay(deps, payout)
    if payout.state is not PayoutState.PROCESSING or not payout.payout_id:
        return payout
    seen = await deps.payouts.get(payout.payout_id)
    return await _keep(deps, payout, seen)


async def follow_payouts(deps: SettlementDeps) -> int:
    """Follows the open payouts and takes in the returns the gateway lists; how many changed."""
    async with deps.uow() as work:
        open_payouts = await work.repo.open_payouts(FOLLOW_BATCH)
    changed = 0
    for payout in open_payouts:
        changed += (await follow_payout(deps, payout)) != payout
    returned = {seen.payout_id: seen for seen in await deps.payouts.returned()}
    if returned:
        async with deps.uow() as work:
            paid = await work.repo.paid_by(returned)
        for payout in paid:
            seen = returned[payout.payout_id]
            changed += (await _keep(deps, payout, seen)) != payout
    return changed
