"""One attempt on a channel: the charge in its own span, its outcome counted towards the
channel's success rate, and a success confirmed by query where the channel needs it."""

from __future__ import annotations

import logging

from opentelemetry import trace
from opentelemetry.util.types import AttributeValue

from gateway.domain.model import Payment
from gateway.domain.ports import ChannelAdapter, ChannelAnswer, ChannelCharge, ChannelOutcome
from gateway.service_layer.deps import PaymentDeps
from paysuite.runtime import span_attributes as attrs

_log = logging.getLogger(__name__)
_tracer = trace.get_tracer(__name__)


async def _confirmed(
    channel: ChannelAdapter, payment_id: str, answer: ChannelAnswer
) -> ChannelAnswer:
    """A success is believed only when the channel's own query confirms it."""
    confirmation = await channel.query(payment_id)
    match confirmation.outcome:
        case ChannelOutcome.SUCCEEDED:
            return answer
        case ChannelOutcome.FAILED:
            _log.warning(
                "channel success not confirmed by its query",
                extra={"payment_id": payment_id, "channel": channel.name},
            )
            return ChannelAnswer(
                ChannelOutcome.FAILED,
                answer.channel_transaction_id,
                error_code="SUCCESS_NOT_CONFIRMED",
            )
        case _:
            return ChannelAnswer(
                ChannelOutcome.UNKNOWN,
                answer.channel_transaction_id,
                error_code="SUCCESS_UNCONFIRMED",
            )


async def charge_attempt(
    deps: PaymentDeps, payment: Payment, charge: ChannelCharge, attempt_no: int, reason: str
) -> ChannelAnswer:
    """One attempt on the payment's channel, in its own span; a success is confirmed by query
    where the channel needs it."""
    channel = deps.channels[payment.channel]
    attributes: dict[str, AttributeValue] = {
        attrs.PAYMENT_ID: payment.payment_id,
        attrs.CHANNEL: channel.name,
        attrs.ATTEMPT_NUMBER: attempt_no,
        attrs.CHANNEL_SELECTION_REASON: reason,
    }
    with _tracer.start_as_current_span("gateway.channel_attempt", attributes=attributes) as span:
        answer = await channel.charge(charge)
        if answer.outcome is not ChannelOutcome.PENDING:
            succeeded = answer.outcome is ChannelOutcome.SUCCEEDED
            deps.success_rates.record(channel.name, succeeded, deps.monotonic())
        if answer.outcome is ChannelOutcome.SUCCEEDED and channel.confirm_by_query:
            answer = await _confirmed(channel, payment.payment_id, answer)
        span.set_attribute(attrs.ATTEMPT_OUTCOME, answer.outcome.value)
        if answer.error_code:
            span.set_attribute(attrs.ATTEMPT_ERROR, answer.error_code)
    return answer
