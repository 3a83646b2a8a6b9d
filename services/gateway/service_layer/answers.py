"""Applying a channel's answer to a payment, from a charge, a query or a notification.

The change is decided on the payment as read and written in one statement only if the payment
is still at that version; if it moved meanwhile (a notification racing the charge's answer,
the janitor) it is read and decided again. A success the database refuses because another
payment of the business order succeeded first becomes a duplicate, refunded in full.
"""

from __future__ import annotations

from gateway.adapters.store.payment_batches import AnswerWrite
from gateway.adapters.store.payments import Applied, NotificationRecord
from gateway.domain.answers import Change, capture_key, decide
from gateway.domain.errors import PaymentNotFound
from gateway.domain.model import Payment, PaymentPurpose, PaymentState
from gateway.domain.ports import ChannelAnswer, ChannelNotification
from gateway.service_layer.deps import PaymentDeps
from gateway.service_layer.duplicates import refund_duplicate
from gateway.service_layer.measurements import count_outcome
from gateway.service_layer.outbox import current_traceparent

# Rounds of read-decide-write before giving up on a payment changing under every attempt.
MAX_ROUNDS = 8


async def load(deps: PaymentDeps, payment_id: str) -> Payment:
    async with deps.session() as stores:
        payment = await stores.payments.get(payment_id)
    if payment is None:
        raise PaymentNotFound("payment not found", metadata={"payment_id": payment_id})
    return payment


async def write(
    deps: PaymentDeps,
    change: Change,
    version: int,
    notification: NotificationRecord | None = None,
) -> Applied:
    """One statement (shared with concurrent payments' answers); a transaction of its own only
    when the channel's daily volume is given back too."""
    traceparent = current_traceparent()
    if change.release_volume and deps.limits_daily_volume(change.payment.channel):
        async with deps.uow() as work:
            applied = await work.repo.payments.apply(change, version, traceparent, notification)
            if applied is Applied.APPLIED:
                await work.repo.payments.release_volume(change.payment.payment_id)
                await work.commit()
    else:
        applied = await deps.writes.apply(AnswerWrite(change, version, traceparent, notification))
    if applied is Applied.APPLIED:
        deps.written(change)
        if (
            change.payment.state.terminal
            and change.event == f"payment.{change.payment.state.value}"
        ):
            count_outcome(change.payment)
    return applied


async def apply_answer(
    deps: PaymentDeps,
    payment_id: str,
    answer: ChannelAnswer,
    *,
    current: Payment | None = None,
    card_id: str | None = None,
    closing: bool = False,
    notification: ChannelNotification | None = None,
) -> Payment:
    """Applies the answer to the payment (`current`: as the caller just read or wrote it); one
    that came by notification is recorded with it, and one recorded before changes nothing."""
    order_paid = False
    for _ in range(MAX_ROUNDS):
        if current is None:
            current = await load(deps, payment_id)
        record = None
        if notification is not None:
            record = NotificationRecord(
                current.channel, notification.notification_id, answer.outcome.value
            )
        now = deps.clock()
        change = decide(
            current, answer, now, order_paid=order_paid, closing=closing, card_id=card_id
        )
        if change is None:
            if record is None:
                return current
            change = Change(current)  # nothing changes but the notification is recorded
        match await write(deps, change, current.version, record):
            case Applied.APPLIED:
                updated = change.payment.at_version(current.version + 1)
                if updated.state is PaymentState.DUPLICATE:
                    await refund_duplicate(deps, updated)
                elif updated.purpose is PaymentPurpose.TOP_UP and updated.state.captured:
                    # The payer may spend the top-up the moment they see it succeed.
                    await deps.relay.deliver_now([capture_key(updated.payment_id)])
                return updated
            case Applied.ORDER_PAID:
                order_paid = True
            case Applied.NOTIFICATION_SEEN:
                return await load(deps, payment_id)
            case Applied.STALE:
                # Decided again on what the write in the way left, when this process made it
                # (a notification meeting its charge's answer); else on the payment read back.
                known = deps.writes.latest(payment_id)
                current = known if known is not None and known.version > current.version else None
    raise RuntimeError(f"payment {payment_id} kept changing while an answer was applied")
