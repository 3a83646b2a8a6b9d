"""Resolving payments the channel has not answered definitely: query now, or on a schedule.

The janitor asks the channel again every 5 s for the first 30 s, then backs off; a payment
still unresolved after the last query is handed to reconciliation, never guessed at. While
a channel is closed (its day-cut), its payments wait for it to open.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from opentelemetry import trace

from gateway.domain.model import Payment, PaymentState
from gateway.domain.ports import ChannelAnswer, ChannelOutcome, ClosableChannel
from gateway.domain.status import next_query_delay
from gateway.service_layer.answers import apply_answer, load
from gateway.service_layer.deps import PaymentDeps
from gateway.service_layer.duplicates import refund_forgotten_duplicates
from gateway.service_layer.measurements import DueQueriesGauge
from gateway.service_layer.refunds import resend_unanswered_refunds
from gateway.service_layer.unit_of_work import UnitOfWorkFactory
from paysuite.errors import DomainError, ErrorKind
from paysuite.runtime import span_attributes as attrs
from paysuite.runtime.payment_traces import in_payment_trace

_log = logging.getLogger(__name__)

# A charge can still land at the bank this long after we sent it (its timeout plus margin),
# so "no such order" before then proves nothing.
IN_FLIGHT = timedelta(seconds=60)


class PaymentStatusUnknown(DomainError):
    kind = ErrorKind.FAILED_PRECONDITION
    reason = "PAYMENT_STATUS_UNKNOWN"


class PaymentNotClosable(DomainError):
    kind = ErrorKind.FAILED_PRECONDITION
    reason = "PAYMENT_NOT_CLOSABLE"


async def _ask(deps: PaymentDeps, payment: Payment) -> ChannelAnswer:
    channel = deps.channel(payment.channel)
    if channel is None:
        return ChannelAnswer(ChannelOutcome.UNKNOWN, error_code="CHANNEL_NOT_CONFIGURED")
    answer = await channel.query(payment.payment_id)
    too_early = deps.clock() - payment.created_at < IN_FLIGHT
    if answer.error_code == "ORDER_NOT_EXIST" and too_early:
        return ChannelAnswer(ChannelOutcome.UNKNOWN, error_code="ORDER_NOT_EXIST_YET")
    return answer


async def query_payment(deps: PaymentDeps, payment_id: str) -> Payment:
    """Asks the channel now; a definite answer is applied, an indefinite one changes nothing."""
    payment = await load(deps, payment_id)
    if payment.state.terminal:
        return payment
    return await apply_answer(deps, payment_id, await _ask(deps, payment), current=payment)


async def close_payment(deps: PaymentDeps, payment_id: str) -> Payment:
    """Closes an unpaid order: once the channel says it does not have it, or, where the
    channel can close orders, once it has closed it so the buyer can no longer pay."""
    payment = await load(deps, payment_id)
    if payment.state is PaymentState.CLOSED:
        return payment
    if payment.state is not PaymentState.PROCESSING and payment.state is not PaymentState.UNKNOWN:
        raise PaymentNotClosable(
            "only an unpaid payment can be closed", metadata={"state": payment.state.value}
        )
    answer = await _ask(deps, payment)
    await _refuse_if_paid(deps, payment_id, answer)
    if answer.outcome is not ChannelOutcome.FAILED and not await _closed_at_channel(deps, payment):
        # It would not close: perhaps paid this instant, so ask once more.
        answer = await _ask(deps, payment)
        await _refuse_if_paid(deps, payment_id, answer)
        raise PaymentStatusUnknown("the channel cannot tell yet whether it was paid")
    return await apply_answer(
        deps, payment_id, ChannelAnswer(ChannelOutcome.FAILED, error_code="CLOSED"), closing=True
    )


async def _refuse_if_paid(deps: PaymentDeps, payment_id: str, answer: ChannelAnswer) -> None:
    if answer.outcome is ChannelOutcome.SUCCEEDED:
        await apply_answer(deps, payment_id, answer)
        raise PaymentNotClosable("the channel has taken the money", metadata={"state": "succeeded"})


async def _closed_at_channel(deps: PaymentDeps, payment: Payment) -> bool:
    channel = deps.channel(payment.channel)
    if not isinstance(channel, ClosableChannel):
        return False
    closed = await channel.close(payment.payment_id)
    return closed.outcome is ChannelOutcome.FAILED and closed.error_code == "CLOSED"


async def resolve_due(deps: PaymentDeps, limit: int = 50) -> int:
    """One janitor pass: query every due payment, reschedule or hand over what stays open."""
    now = deps.clock()
    async with deps.uow() as work:
        # A channel configured on other replicas only (a rollout) is theirs to ask.
        due = await work.repo.payments.due_for_query(now, limit, list(deps.channels))
        for payment_id, attempts in due:
            # Claimed for this pass: push the next query out so others leave it alone.
            await work.repo.payments.schedule_query(
                payment_id, now + timedelta(seconds=30), attempts
            )
        parents = await work.repo.payments.traceparents([payment_id for payment_id, _ in due])
        await work.commit()
    for payment_id, attempts in due:
        attributes: dict[str, str | int] = {
            attrs.PAYMENT_ID: payment_id,
            attrs.QUERY_ATTEMPT: attempts + 1,
        }
        with in_payment_trace("gateway.janitor.query", parents.get(payment_id, ""), attributes):
            await _query_due(deps, payment_id, attempts)
    return len(due)


async def _query_due(deps: PaymentDeps, payment_id: str, attempts: int) -> None:
    """Asks the channel about one due payment; reschedules it or hands it over if still open."""
    payment = await load(deps, payment_id)
    trace.get_current_span().set_attribute(attrs.CHANNEL, payment.channel)
    if (reopening := deps.reopens_at(payment.channel)) is not None:
        # Asked in its day-cut the channel cannot answer: ask once it is open, and do not
        # count this towards handing the payment over.
        async with deps.uow() as work:
            await work.repo.payments.schedule_query(payment_id, reopening, attempts)
            await work.commit()
        return
    resolved = await apply_answer(deps, payment_id, await _ask(deps, payment), current=payment)
    trace.get_current_span().set_attribute(attrs.PAYMENT_STATE, resolved.state.value)
    if resolved.state.terminal:
        return
    delay = next_query_delay(attempts + 1)
    async with deps.uow() as work:
        if delay is None:
            await work.repo.payments.schedule_query(payment_id, None, attempts + 1, hand_over=True)
            await work.repo.events.add(
                resolved.merchant_id, "payment.reconciliation", payment_id, "", deps.clock()
            )
            _log.warning("payment handed to reconciliation", extra={"payment_id": payment_id})
        else:
            await work.repo.payments.schedule_query(payment_id, deps.clock() + delay, attempts + 1)
        await work.commit()
    if delay is None:
        deps.sequencer.wake()


async def sample_backlog(
    uow: UnitOfWorkFactory, clock: Callable[[], datetime], gauge: DueQueriesGauge
) -> None:
    """Counts the payments and payouts whose status query is due into the gauge."""
    now = clock()
    async with uow() as work:
        gauge.set(await work.repo.payments.due_count(now), await work.repo.payouts.due_count(now))


Chore = Callable[[PaymentDeps], Awaitable[int]]
PAYMENT_CHORES: tuple[Chore, ...] = (
    resolve_due,
    refund_forgotten_duplicates,
    resend_unanswered_refunds,
)


async def run_janitor(
    deps: PaymentDeps, every_seconds: float = 1.0, chores: Sequence[Chore] = PAYMENT_CHORES
) -> None:
    """Its chores in turn, each on its own: one that keeps failing holds up none of the others."""
    backlog = DueQueriesGauge()
    while True:
        if backlog.due():
            try:
                await sample_backlog(deps.uow, deps.clock, backlog)
            except Exception:  # a measurement must not stop the janitor
                _log.exception("janitor backlog not sampled")
        handled = 0
        for chore in chores:
            try:
                handled += await chore(deps)
            except Exception:  # the janitor must outlive any one failure
                _log.exception("payment janitor chore failed", extra={"chore": chore.__name__})
        if not handled:
            await asyncio.sleep(every_seconds)
