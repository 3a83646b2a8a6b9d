"""Signed HTTP callbacks to merchants: every event, in order, at least once, with retries.

A cursor per merchant records the last event the merchant acknowledged (HTTP 2xx); a failure
backs off exponentially and the same event is sent again, so merchants must deduplicate by
its sequence number, which the body carries.

With several gateway replicas, a dispatcher claims a merchant for a lease long enough to send
a whole batch at the sender's timeout, and sends nothing once the lease could run out before an
answer: no other dispatcher sends the same events meanwhile. The cursor only moves forward.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from opentelemetry.trace import StatusCode

from gateway.adapters.store.events import CallbackTarget, LoadedEvent
from gateway.service_layer.unit_of_work import SessionFactory, UnitOfWorkFactory
from paysuite.money import Money
from paysuite.runtime import span_attributes as attrs
from paysuite.runtime.payment_traces import in_payment_trace

_log = logging.getLogger(__name__)


class CallbackSender(Protocol):
    # The longest one send may take before it counts as failed.
    timeout_seconds: float

    async def send(self, url: str, secret: str, body: bytes) -> str | None:
        """Posts the signed body; None when the merchant acknowledged, else why not."""
        ...


@dataclass
class CallbackDeps:
    uow: UnitOfWorkFactory
    session: SessionFactory
    sender: CallbackSender
    clock: Callable[[], datetime]
    max_backoff_seconds: int = 600
    batch: int = 20

    @property
    def lease(self) -> timedelta:
        """How long a claimed merchant is left to its dispatcher: a whole batch, slow answers."""
        return timedelta(seconds=self.batch * self.sender.timeout_seconds + 10)


def _money(value: Money) -> dict[str, object]:
    return {"currency_code": value.currency, "minor_units": value.minor_units}


def _body(found: LoadedEvent) -> bytes:
    """What a merchant receives: ids, states and amounts; nothing about the payer, nor its
    bank account's number."""
    document: dict[str, object] = {"sequence": found.event.sequence, "type": found.event.type}
    payment, refund, payout = found.payment, found.refund, found.payout
    if payment is not None:
        shown: dict[str, object] = {
            "payment_id": payment.payment_id,
            "merchant_order_no": payment.merchant_order_no,
            "state": payment.state.value,
            "amount": _money(payment.amount),
        }
        if payment.platform_coupon:  # the part of the amount the platform's coupon pays
            currency = payment.amount.currency
            shown["platform_coupon"] = _money(Money(currency, payment.platform_coupon))
        document["payment"] = shown
    if refund is not None:
        given: dict[str, object] = {
            "refund_id": refund.refund_id,
            "state": refund.state.value,
            "amount": _money(refund.amount),
        }
        if refund.platform_coupon:  # the refund's share back to the platform's coupon
            currency = refund.amount.currency
            given["platform_coupon"] = _money(Money(currency, refund.platform_coupon))
        document["refund"] = given
    if payout is not None:
        document["payout"] = {
            "payout_id": payout.payout_id,
            "state": payout.state.value,
            "amount": _money(payout.amount),
            "failure_reason": payout.failure_reason,
            "return_reason": payout.return_reason,
        }
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


async def _deliver(deps: CallbackDeps, target: CallbackTarget, claimed_until: datetime) -> None:
    async with deps.session() as stores:
        events = await stores.events.after(
            target.merchant_id, target.delivered_sequence, deps.batch
        )
        parents = await stores.payments.traceparents(
            [e.payment.payment_id for e in events if e.payment is not None]
        )
    bodies = [
        (
            e.event.sequence,
            _body(e),
            "" if e.payment is None else e.payment.payment_id,
        )
        for e in events
    ]
    delivered = target.delivered_sequence
    error: str | None = None
    last_start = claimed_until - timedelta(seconds=deps.sender.timeout_seconds)
    for sequence, body, payment_id in bodies:
        if deps.clock() > last_start:
            break  # the lease could end mid-send: the rest on the next claim
        attributes: dict[str, str | int] = {
            attrs.MERCHANT_ID: target.merchant_id,
            attrs.PAYMENT_ID: payment_id,
            attrs.EVENT_SEQUENCE: sequence,
        }
        with in_payment_trace(
            "gateway.merchant_callback", parents.get(payment_id, ""), attributes
        ) as span:
            error = await deps.sender.send(target.url, target.secret, body)
            if error is not None:
                span.set_status(StatusCode.ERROR, error)
        if error is not None:
            break
        delivered = sequence
    now = deps.clock()
    async with deps.uow() as work:
        if delivered != target.delivered_sequence:
            await work.repo.events.callback_delivered(target.merchant_id, delivered, now)
        if error is not None:
            attempts = target.attempts + 1 if delivered == target.delivered_sequence else 1
            backoff = min(deps.max_backoff_seconds, 2 ** min(attempts, 10))
            await work.repo.events.callback_failed(
                target.merchant_id, attempts, now + timedelta(seconds=backoff), error
            )
            _log.warning(
                "merchant callback failed",
                extra={"merchant_id": target.merchant_id, "attempts": attempts, "error": error},
            )
        await work.commit()


async def dispatch_once(deps: CallbackDeps) -> int:
    async with deps.uow() as work:
        targets = await work.repo.events.due_callbacks(deps.clock(), 20)
        # Claimed: push the next attempt out so other dispatchers leave these alone.
        claimed_until = deps.clock() + deps.lease
        for target in targets:
            await work.repo.events.callback_failed(
                target.merchant_id, target.attempts, claimed_until, "in flight"
            )
        await work.commit()
    for target in targets:
        await _deliver(deps, target, claimed_until)
    return len(targets)


async def run_dispatcher(deps: CallbackDeps, every_seconds: float = 0.5) -> None:
    while True:
        try:
            handled = await dispatch_once(deps)
        except Exception:  # the dispatcher must outlive any one failure
            _log.exception("merchant callback pass failed")
            handled = 0
        if not handled:
            await asyncio.sleep(every_seconds)
