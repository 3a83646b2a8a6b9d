"""Paying a business order: record, check the payer, charge the channel, post to the ledger."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from opentelemetry import trace

from gateway.adapters.store.payment_batches import NewPayment
from gateway.adapters.store.payments import Applied, Recorded
from gateway.adapters.store.stores import Stores
from gateway.domain.answers import refused_before_charge
from gateway.domain.attempts import ChannelAttempt
from gateway.domain.channel_selection import ChannelDecision, OrderToPlace, select_channel
from gateway.domain.errors import (
    ChannelNotSupported,
    MerchantNotFound,
    OrderAlreadyPaid,
    PaymentNotFound,
    RequestIdReused,
)
from gateway.domain.model import (
    CreatePayment,
    Payment,
    PaymentMethod,
    PaymentPurpose,
    PaymentState,
)
from gateway.domain.ports import AuthorizePayment, ChannelCharge, Funding
from gateway.service_layer import answers
from gateway.service_layer.attempts import DAILY_LIMIT, accounting_date, claim_channel, reroute
from gateway.service_layer.charging import charge_attempt
from gateway.service_layer.deps import PaymentDeps
from gateway.service_layer.outbox import current_traceparent
from gateway.service_layer.unit_of_work import SessionFactory
from paysuite.ids import new_id
from paysuite.runtime import span_attributes as attrs
from paysuite.runtime.telemetry import current_trace_id

_log = logging.getLogger(__name__)

# A payment is normally settled within its channel's timeout (and a confirming query); one
# still processing after this was cut off (a crash, a restart) and the janitor asks for it.
RECOVERY_QUERY_DELAY = timedelta(seconds=40)


def _annotate(payment: Payment) -> None:
    span = trace.get_current_span()
    span.set_attribute(attrs.PAYMENT_ID, payment.payment_id)
    span.set_attribute(attrs.MERCHANT_ID, payment.merchant_id)
    span.set_attribute(attrs.MERCHANT_ORDER_NO, payment.merchant_order_no)
    span.set_attribute(attrs.CHANNEL, payment.channel)
    span.set_attribute(attrs.PAYMENT_STATE, payment.state.value)


async def _replay(stores: Stores, command: CreatePayment) -> Payment | None:
    existing = await stores.payments.by_request_id(command.merchant_id, command.request_id)
    if existing is None:
        return None
    if existing.request_hash != command.request_hash():
        raise RequestIdReused(
            "request_id was used for a different payment",
            metadata={"payment_id": existing.payment_id},
        )
    return existing


def _decide(deps: PaymentDeps, command: CreatePayment, payment_id: str) -> ChannelDecision:
    if not any(t.method is command.method for t in deps.terms.values()):
        raise ChannelNotSupported(
            "no channel serves this payment method", metadata={"method": command.method.value}
        )
    rules = deps.channel_rules()
    rates = deps.success_rates.snapshot(deps.monotonic(), rules.success_rate.window_seconds)
    # Channels are chosen, and their limits counted, by what they charge.
    order = OrderToPlace(payment_id, command.merchant_id, command.method, command.charged)
    return select_channel(rules, deps.terms, order, deps.clock(), rates)


@dataclass(frozen=True, slots=True)
class _Recorded:
    payment: Payment
    created: bool
    fallbacks: tuple[str, ...] = ()
    refusal: str = ""
    reason: str = ""


def _new_payment(command: CreatePayment, payment_id: str, channel: str, now: datetime) -> Payment:
    return Payment(
        payment_id=payment_id,
        request_id=command.request_id,
        request_hash=command.request_hash(),
        merchant_id=command.merchant_id,
        merchant_order_no=command.merchant_order_no,
        amount=command.amount,
        method=command.method,
        payer_user_id=command.payer_user_id,
        state=PaymentState.PROCESSING,
        channel=channel,
        trace_id=current_trace_id(),
        created_at=now,
        updated_at=now,
        card_id=command.card_id,
        description=command.description,
        purpose=command.purpose,
        platform_coupon=command.platform_coupon,
    )


async def _not_recorded(stores: Stores, command: CreatePayment, recorded: Recorded) -> Payment:
    """The payment this request id created before; or why none could be created."""
    if (previous := await _replay(stores, command)) is not None:
        return previous
    if not recorded.merchant_active:
        raise MerchantNotFound(
            "merchant not found or not active", metadata={"merchant_id": command.merchant_id}
        )
    if recorded.order_paid:
        raise OrderAlreadyPaid("the business order is already paid")
    raise RuntimeError("a payment was neither recorded nor found")


async def _record(
    deps: PaymentDeps, command: CreatePayment, payment_id: str, decision: ChannelDecision
) -> _Recorded:
    """Stores the new payment order on the first candidate channel with room today, with its
    first attempt; or returns the payment this request id created before."""
    candidates = decision.candidates
    if candidates and not deps.limits_daily_volume(candidates[0]):
        return await _record_at_once(deps, command, payment_id, decision)
    return await _record_with_volume(deps, command, payment_id, decision)


async def _record_at_once(
    deps: PaymentDeps, command: CreatePayment, payment_id: str, decision: ChannelDecision
) -> _Recorded:
    """On a channel without a daily limit: one statement (shared with concurrent payments'
    records), nothing to reserve first."""
    now = deps.clock()
    channel = decision.candidates[0]
    payment = _new_payment(command, payment_id, channel, now)
    first = ChannelAttempt(payment_id, 1, channel, decision.rule, decision.reason, now, now)
    recorded = await deps.writes.record(
        NewPayment(
            payment,
            accounting_date(now),
            first,
            now + RECOVERY_QUERY_DELAY,
            traceparent=current_traceparent(),
        )
    )
    if not recorded.created:
        async with deps.session() as stores:
            return _Recorded(await _not_recorded(stores, command, recorded), created=False)
    payment = payment.with_fee_rate(recorded.fee_bps)
    return _Recorded(payment, True, tuple(decision.candidates[1:]), "", decision.reason)


async def _record_with_volume(
    deps: PaymentDeps, command: CreatePayment, payment_id: str, decision: ChannelDecision
) -> _Recorded:
    """On the first candidate with daily volume left, reserved under its row lock in the same
    transaction; failed as it is recorded when no candidate has room (or there is none)."""
    now = deps.clock()
    day = accounting_date(now)
    async with deps.uow() as work:
        claim = await claim_channel(deps, work, decision.candidates, day, command.charged)
        payment = _new_payment(command, payment_id, claim.channel or "", now)
        refusal = "" if claim.channel else decision.refusal or DAILY_LIMIT
        attempt: ChannelAttempt | None = None
        if refusal:
            # No channel can take it: failed as it is recorded, nothing to recover later.
            payment = payment.fail(refusal, now)
        elif claim.channel is not None:
            attempt = ChannelAttempt(
                payment_id,
                1,
                claim.channel,
                decision.rule,
                claim.reason(decision),
                now,
                now,
                volume_reserved=claim.reserved,
            )
        recorded = await work.repo.payments.record(
            payment,
            day,
            attempt,
            None if refusal else now + RECOVERY_QUERY_DELAY,
            event="payment.failed" if refusal else "",
            traceparent=current_traceparent(),
        )
        if not recorded.created:
            await work.rollback()
            return _Recorded(await _not_recorded(work.repo, command, recorded), created=False)
        await work.commit()
    if refusal:
        deps.sequencer.wake()
    payment = payment.with_fee_rate(recorded.fee_bps)
    return _Recorded(payment, True, claim.rest, refusal, claim.reason(decision))


async def _refuse(deps: PaymentDeps, payment: Payment, reason: str) -> Payment:
    """Fails a payment the channel never saw (the payer was refused before any charge)."""
    change = refused_before_charge(payment, reason, deps.clock())
    if await answers.write(deps, change, payment.version) is Applied.APPLIED:
        return change.payment.at_version(payment.version + 1)
    return await answers.load(deps, payment.payment_id)


async def _wallet_opened(deps: PaymentDeps, payment: Payment) -> bool:
    """The top-up's capture credits the payer's wallet: it must exist before anything is charged."""
    try:
        await deps.ledger.open_wallet(payment.payer_user_id, payment.amount.currency)
    except Exception as exc:  # the ledger is down or slow: charge nothing
        _log.warning(
            "wallet not opened; top-up refused",
            extra={"payment_id": payment.payment_id, "error": type(exc).__name__},
        )
        return False
    return True


async def create_payment(deps: PaymentDeps, command: CreatePayment) -> Payment:
    deps.payment_rates.admit(command.merchant_id, deps.monotonic())
    payment_id = new_id("pay")
    decision = _decide(deps, command, payment_id)
    recorded = await _record(deps, command, payment_id, decision)
    payment = recorded.payment
    _annotate(payment)
    if not recorded.created:
        return payment
    span = trace.get_current_span()
    span.set_attribute(attrs.CHANNEL_SELECTION_RULE, decision.rule)
    span.set_attribute(attrs.CHANNEL_SELECTION_REASON, decision.reason)
    span.set_attribute(attrs.CHANNEL_SELECTION_CANDIDATES, list(decision.candidates))
    if recorded.refusal:
        # Closed, over its limits: the channel would refuse or lose the charge.
        _log.info("no channel can take the payment", extra={"payment_id": payment_id})
        return payment
    if command.purpose is PaymentPurpose.TOP_UP and not await _wallet_opened(deps, payment):
        payment = await _refuse(deps, payment, "WALLET_UNAVAILABLE")
        _annotate(payment)
        return payment
    # A wallet pays from the buyer's wallet account: no bound card to check; limits still apply.
    # The payer's limits count what they pay: the platform's coupon is not theirs.
    funding = Funding.BALANCE if command.method is PaymentMethod.WALLET_BALANCE else Funding.CARD
    authorization = await deps.identity.authorize(
        AuthorizePayment(
            payment.payment_id,
            command.payer_user_id,
            payment.charged,
            funding,
            command.auth_factors,
            needs_card=command.method.needs_card,
            card_id=command.card_id,
        )
    )
    if not authorization.authorized:
        payment = await _refuse(deps, payment, f"PAYER_{authorization.reason}")
        _annotate(payment)
        return payment
    charge = ChannelCharge(
        payment.payment_id,
        payment.charged,
        authorization.agreement_no,
        command.description,
        command.payer_user_id,
    )
    fallbacks = recorded.fallbacks
    answer = await charge_attempt(deps, payment, charge, 1, recorded.reason)
    while fallbacks and deps.terms[payment.channel].retry_elsewhere(
        answer.outcome, answer.error_code
    ):
        moved = await reroute(deps, payment, answer, fallbacks, decision)
        if moved is None:
            break
        payment, fallbacks = moved.payment, moved.rest
        answer = await charge_attempt(deps, payment, charge, moved.attempt_no, moved.reason)
    payment = await answers.apply_answer(
        deps,
        payment.payment_id,
        answer,
        current=payment,
        card_id=authorization.card_id or None,
    )
    _annotate(payment)
    _log.info(
        "payment settled", extra={"payment_id": payment.payment_id, "state": payment.state.value}
    )
    return payment


async def get_payment_with_attempts(
    session: SessionFactory, payment_id: str
) -> tuple[Payment, list[ChannelAttempt]]:
    async with session() as stores:
        payment = await stores.payments.get(payment_id)
        attempts = await stores.payments.attempts(payment_id)
    if payment is None:
        raise PaymentNotFound("payment not found", metadata={"payment_id": payment_id})
    return payment, attempts
