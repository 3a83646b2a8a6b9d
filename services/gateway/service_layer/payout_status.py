"""Resolving payouts as payments are: the janitor asks the bank about every payout it has not
answered definitely, on the same schedule, and hands one still open after the last query to
reconciliation, never guessing. It also reads the bank's lists of returned payouts (退票),
today's and yesterday's on every round, the last week's on the first.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from opentelemetry import trace

from gateway.domain.payouts import Payout, PayoutState, returned_answer
from gateway.domain.ports import ChannelOutcome, PayoutAnswer, PayoutReturn
from gateway.domain.status import next_query_delay
from gateway.service_layer.attempts import accounting_date
from gateway.service_layer.deps import PaymentDeps
from gateway.service_layer.payouts import apply_payout_answer, load_payout
from gateway.service_layer.status import IN_FLIGHT, Chore
from paysuite.runtime import span_attributes as attrs

_log = logging.getLogger(__name__)
_tracer = trace.get_tracer(__name__)

# How far back returns are read when the janitor starts (it may have been down for days).
RETURNS_WINDOW_DAYS = 7


async def _ask(deps: PaymentDeps, payout: Payout) -> PayoutAnswer:
    channel = deps.payouts_on(payout.channel)
    if channel is None:
        return PayoutAnswer(ChannelOutcome.UNKNOWN, error_code="CHANNEL_NOT_CONFIGURED")
    answer = await channel.query_payout(payout.payout_id)
    if answer.error_code == "ORDER_NOT_EXIST" and deps.clock() - payout.created_at < IN_FLIGHT:
        # It can still arrive at the bank: no such payout proves nothing yet.
        return PayoutAnswer(ChannelOutcome.UNKNOWN, error_code="ORDER_NOT_EXIST_YET")
    return answer


async def resolve_due_payouts(deps: PaymentDeps, limit: int = 50) -> int:
    """One janitor pass over payouts: query every due one, reschedule or hand over the rest."""
    now = deps.clock()
    channels = [name for name in deps.channels if deps.payouts_on(name) is not None]
    async with deps.uow() as work:
        due = await work.repo.payouts.due_for_query(now, limit, channels)
        for payout_id, attempts in due:
            # Claimed for this pass: the next query pushed out so that others leave it alone.
            await work.repo.payouts.schedule_query(payout_id, now + timedelta(seconds=30), attempts)
        await work.commit()
    for payout_id, attempts in due:
        # A trace of its own: a payout keeps its trace id, not a traceparent to continue.
        attributes: dict[str, str | int] = {
            attrs.PAYOUT_ID: payout_id,
            attrs.QUERY_ATTEMPT: attempts + 1,
        }
        with _tracer.start_as_current_span("gateway.janitor.payout_query", attributes=attributes):
            await _query_due(deps, payout_id, attempts)
    return len(due)


async def _query_due(deps: PaymentDeps, payout_id: str, attempts: int) -> None:
    """Asks the bank about one due payout; reschedules it or hands it over if still open."""
    payout = await load_payout(deps, payout_id)
    span = trace.get_current_span()
    span.set_attribute(attrs.CHANNEL, payout.channel)
    resolved = await apply_payout_answer(deps, payout_id, await _ask(deps, payout), current=payout)
    span.set_attribute(attrs.PAYOUT_STATE, resolved.state.value)
    if not resolved.state.open:
        return
    delay = next_query_delay(attempts + 1)
    async with deps.uow() as work:
        if delay is None:
            await work.repo.payouts.schedule_query(payout_id, None, attempts + 1, hand_over=True)
            _log.warning("payout handed to reconciliation", extra={"payout_id": payout_id})
        else:
            await work.repo.payouts.schedule_query(payout_id, deps.clock() + delay, attempts + 1)
        await work.commit()


async def apply_return(deps: PaymentDeps, back: PayoutReturn) -> bool:
    """Applies a return the bank listed; whether it changed the payout."""
    async with deps.session() as stores:
        payout = await stores.payouts.get(back.payout_id)
    if payout is None:
        _log.error("the bank returned a payout we never made", extra={"payout_id": back.payout_id})
        return False
    if payout.state is PayoutState.RETURNED:
        return False
    after = await apply_payout_answer(deps, back.payout_id, returned_answer(back), current=payout)
    return after.state is PayoutState.RETURNED


def payout_returns_chore(every: timedelta) -> Chore:
    """A janitor chore that reads the payout channel's returns once per `every`, the first
    time `every` after it starts (a gateway starting does not call the bank at once)."""
    next_at: datetime | None = None
    since: date | None = None

    async def check_payout_returns(deps: PaymentDeps) -> int:
        nonlocal next_at, since
        now = deps.clock()
        channel = deps.payouts_on(deps.payout_channel)
        if next_at is None:
            next_at = now + every
        if channel is None or now < next_at:
            return 0
        next_at = now + every
        today = accounting_date(now)
        day = since or today - timedelta(days=RETURNS_WINDOW_DAYS - 1)
        applied = 0
        while day <= today:
            for back in await channel.payout_returns(day):
                applied += await apply_return(deps, back)
            day += timedelta(days=1)
        # Yesterday's list is read once more: a return late on the bank's day shows up in it.
        since = today - timedelta(days=1)
        return applied

    return check_payout_returns
