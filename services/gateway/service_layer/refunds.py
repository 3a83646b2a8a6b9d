"""Refunding a succeeded payment: room reserved under the payment's lock, then the channel.

The refunded total is raised before the channel is asked, so concurrent refunds can never
together exceed the payment; a failed refund gives its room back. A success posts the
reverse of the capture to the ledger through the outbox. A refund the channel did not
answer definitely is sent again by the janitor until it does.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from gateway.adapters.store.stores import Stores
from gateway.domain import coupons
from gateway.domain.answers import transfer_message
from gateway.domain.errors import PaymentNotFound, RequestIdReused
from gateway.domain.model import PaymentPurpose, PaymentState
from gateway.domain.ports import ChannelAnswer, ChannelOutcome
from gateway.domain.refunds import (
    Refund,
    RefundState,
    RequestRefund,
    TopUpNotRefundable,
    check_refundable,
    refund_postings,
)
from gateway.service_layer.deps import PaymentDeps
from gateway.service_layer.outbox import current_traceparent
from gateway.service_layer.unit_of_work import SessionFactory
from paysuite.errors import NotFound
from paysuite.ids import new_id
from paysuite.runtime.telemetry import current_trace_id

# A refund the channel has not answered definitely is sent again after waiting as long as it
# has been pending, at least the first wait and at most the longest.
RESEND_FIRST_WAIT = timedelta(seconds=10)
RESEND_LONGEST_WAIT = timedelta(minutes=10)
# A refund the platform's coupon gives back all of: done without the channel.
COUPON_ONLY = ChannelAnswer(ChannelOutcome.SUCCEEDED)


class RefundNotFound(NotFound):
    reason = "REFUND_NOT_FOUND"


async def _replay(stores: Stores, command: RequestRefund, merchant_id: str) -> Refund | None:
    """The refund this merchant's request id created before, if any; refused if it was another
    refund."""
    existing = await stores.refunds.by_request(merchant_id, command.request_id)
    if existing is None:
        return None
    if existing.request_hash != command.request_hash():
        raise RequestIdReused(
            "request_id was used for a different refund", metadata={"refund_id": existing.refund_id}
        )
    return existing


async def _reserve(deps: PaymentDeps, command: RequestRefund) -> tuple[Refund, str, bool]:
    """Records the refund and raises the payment's refunded total; (refund, channel, new)."""
    async with deps.uow() as work:
        payment = await work.repo.payments.get(command.payment_id, for_update=True)
        if payment is None:
            raise PaymentNotFound("payment not found", metadata={"payment_id": command.payment_id})
        # Under the payment's lock: a copy of this request sent at the same time finds the
        # refund its twin recorded, rather than a payment with no room left.
        if (previous := await _replay(work.repo, command, payment.merchant_id)) is not None:
            return previous, payment.channel, False
        if payment.purpose is PaymentPurpose.TOP_UP and payment.state is PaymentState.SUCCEEDED:
            raise TopUpNotRefundable(
                "a top-up is withdrawn from the wallet, not refunded",
                metadata={"payment_id": payment.payment_id},
            )
        check_refundable(
            payment.amount,
            payment.refunded,
            command.amount,
            payment.state.captured,
        )
        now = deps.clock()
        coupon_share = 0
        if payment.platform_coupon:
            coupon_share = coupons.refund_coupon_share(
                payment.amount.minor_units,
                payment.platform_coupon,
                payment.refunded,
                await work.repo.refunds.coupon_refunded(payment.payment_id),
                command.amount.minor_units,
            )
        refund = Refund(
            refund_id=new_id("rfd"),
            request_id=command.request_id,
            request_hash=command.request_hash(),
            payment_id=payment.payment_id,
            amount=command.amount,
            state=RefundState.PROCESSING,
            reason=command.reason,
            trace_id=current_trace_id(),
            created_at=now,
            updated_at=now,
            platform_coupon=coupon_share,
        )
        if not await work.repo.refunds.add(refund, payment.merchant_id):
            await work.rollback()
            raced = await work.repo.refunds.by_request(payment.merchant_id, command.request_id)
            assert raced is not None
            return raced, payment.channel, False
        await work.repo.payments.save(
            replace(payment, refunded=payment.refunded + command.amount.minor_units)
        )
        await work.commit()
    return refund, payment.channel, True


async def apply_refund_answer(deps: PaymentDeps, refund_id: str, answer: ChannelAnswer) -> Refund:
    async with deps.uow() as work:
        refund = await work.repo.refunds.get(refund_id, for_update=True)
        assert refund is not None
        if refund.state.terminal or answer.outcome not in (
            ChannelOutcome.SUCCEEDED,
            ChannelOutcome.FAILED,
        ):
            return refund
        payment = await work.repo.payments.get(refund.payment_id, for_update=True)
        assert payment is not None
        now = deps.clock()
        if answer.outcome is ChannelOutcome.SUCCEEDED:
            refund = refund.succeed(answer.channel_transaction_id, now)
            refunded_before = await work.repo.refunds.succeeded_total(payment.payment_id)
            message = transfer_message(
                f"{refund.refund_id}:refund",
                refund_postings(refund, payment, refunded_before),
                "payment refund",
                {"payment_id": payment.payment_id, "refund_id": refund.refund_id},
            )
            await work.repo.outbox.enqueue(message, current_traceparent(), now)
        else:
            refund = refund.fail(answer.error_code or "CHANNEL_REFUSED", now)
            await work.repo.payments.save(
                replace(payment, refunded=payment.refunded - refund.amount.minor_units)
            )
        await work.repo.refunds.save(refund)
        await work.repo.events.add(
            payment.merchant_id,
            f"refund.{refund.state.value}",
            payment.payment_id,
            refund.refund_id,
            now,
        )
        await work.commit()
    deps.relay.wake()
    deps.sequencer.wake()
    return refund


async def refund_payment(deps: PaymentDeps, command: RequestRefund) -> Refund:
    async with deps.session() as stores:
        payment = await stores.payments.get(command.payment_id)
        previous = None
        if payment is not None:
            previous = await _replay(stores, command, payment.merchant_id)
    if previous is not None:
        return previous
    refund, channel_name, created = await _reserve(deps, command)
    if not created or refund.state.terminal:
        return refund
    return await _send(deps, refund, channel_name)


async def _send(deps: PaymentDeps, refund: Refund, channel_name: str) -> Refund:
    """Sends the refund to its channel and applies the answer; while the channel takes no
    calls it stays accepted, for the resend to send later."""
    if refund.charged.minor_units == 0:
        # All of it is the coupon's share: nothing goes back through the channel.
        return await apply_refund_answer(deps, refund.refund_id, COUPON_ONLY)
    channel = deps.channel(channel_name)
    if channel is None or deps.reopens_at(channel_name) is not None:
        return refund
    answer = await channel.refund(refund.refund_id, refund.payment_id, refund.charged)
    return await apply_refund_answer(deps, refund.refund_id, answer)


async def resend_unanswered_refunds(deps: PaymentDeps, limit: int = 50) -> int:
    """Asks the channel again about refunds it never answered definitely; channels refund
    once per refund id, so asking again moves no money twice."""
    now = deps.clock()
    async with deps.uow() as work:
        # Only what can be sent now: a refund claimed for a closed channel would only wait
        # longer, and a channel another replica knows is that replica's to send to.
        sendable = [name for name in deps.channels if deps.reopens_at(name) is None]
        refund_ids = await work.repo.refunds.claim_unanswered(
            now, RESEND_FIRST_WAIT, RESEND_LONGEST_WAIT, limit, sendable
        )
        await work.commit()
    for refund_id in refund_ids:
        async with deps.session() as stores:
            refund = await stores.refunds.get(refund_id)
            payment = None if refund is None else await stores.payments.get(refund.payment_id)
        if refund is not None and payment is not None:
            await _send(deps, refund, payment.channel)
    return len(refund_ids)


async def get_refund(session: SessionFactory, refund_id: str) -> Refund:
    async with session() as stores:
        refund = await stores.refunds.get(refund_id)
    if refund is None:
        raise RefundNotFound("refund not found", metadata={"refund_id": refund_id})
    return refund
