"""A channel's asynchronous notification: checked against our order, then applied at most once."""

from __future__ import annotations

import enum
import logging

from gateway.adapters.store.payments import Notified
from gateway.domain.ports import ChannelNotification, ChannelOutcome
from gateway.service_layer.answers import apply_answer
from gateway.service_layer.deps import PaymentDeps
from paysuite.runtime import span_attributes as attrs
from paysuite.runtime.payment_traces import in_payment_trace

_log = logging.getLogger(__name__)


class NotificationResult(enum.Enum):
    """What became of a notification; the first three are acknowledged to the channel."""

    APPLIED = "applied"  # handed to apply_answer with its id (a racing copy applies nothing)
    DUPLICATE = "duplicate"  # this notification id was applied before
    IGNORED = "ignored"  # nothing definite to apply (e.g. "still waiting for the buyer")
    UNKNOWN_PAYMENT = "unknown_payment"  # no such payment on this channel
    MISMATCH = "mismatch"  # the amount differs from our order: never applied


async def receive_notification(
    deps: PaymentDeps, channel: str, notification: ChannelNotification
) -> NotificationResult:
    """Applies a definite notification to its payment once, in the payment's trace;
    contradictions are flagged there."""
    async with deps.session() as stores:
        notified = await stores.payments.get_notified(
            notification.payment_id, channel, notification.notification_id
        )
    attributes = {attrs.CHANNEL: channel, attrs.PAYMENT_ID: notification.payment_id}
    with in_payment_trace("gateway.notification", notified.traceparent, attributes):
        return await _checked_and_applied(deps, channel, notification, notified)


async def _checked_and_applied(
    deps: PaymentDeps, channel: str, notification: ChannelNotification, notified: Notified
) -> NotificationResult:
    payment = notified.payment
    fields = {
        "channel": channel,
        "payment_id": notification.payment_id,
        "notification_id": notification.notification_id,
    }
    if payment is None or payment.channel != channel:
        _log.warning("notification for an unknown payment", extra=fields)
        return NotificationResult.UNKNOWN_PAYMENT
    if notification.amount != payment.charged:
        _log.warning(
            "notification amount differs from the payment",
            extra={**fields, "amount": notification.amount.minor_units},
        )
        return NotificationResult.MISMATCH
    if notified.applied_before:
        _log.info("notification already applied", extra=fields)
        return NotificationResult.DUPLICATE
    outcome = notification.answer.outcome
    if outcome not in (ChannelOutcome.SUCCEEDED, ChannelOutcome.FAILED):
        return NotificationResult.IGNORED
    updated = await apply_answer(
        deps, payment.payment_id, notification.answer, current=payment, notification=notification
    )
    _log.info(
        "notification applied",
        extra={**fields, "outcome": outcome.value, "state": updated.state.value},
    )
    return NotificationResult.APPLIED
