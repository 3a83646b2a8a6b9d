"""Paying a business order: record, check the payer, charge the channel, post to the ledger."""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

from opentelemetry import trace

from gateway.domain.errors import (
    ChannelNotSupported,
    MerchantNotFound,
    OrderAlreadyPaid,
    PaymentNotFound,
    RequestIdReused,
)
from gateway.domain.model import CreatePayment, Payment, PaymentState
from gateway.domain.ports import (
    ChannelAdapter,
    ChannelAnswer,
    ChannelCharge,
    ChannelOutcome,
    PayerCheck,
)
from gateway.service_layer.deps import PaymentDeps
from gateway.service_layer.settlement import apply_answer
from gateway.service_layer.unit_of_work import UnitOfWork, UnitOfWorkFactory
from paysuite.ids import new_id
from paysuite.runtime.telemetry import current_trace_id

_log = logging.getLogger(__name__)

ACCOUNTING_ZONE = ZoneInfo("Asia/Shanghai")


def _annotate(payment: Payment) -> None:
    span = trace.get_current_span()
    span.set_attribute("paysuite.payment_id", payment.payment_id)
    span.set_attribute("paysuite.merchant_order_no", payment.merchant_order_no)
    span.set_attribute("paysuite.channel", payment.channel)
    span.set_attribute("paysuite.payment_state", payment.state.value)


async def _replay(work: UnitOfWork, command: CreatePayment) -> Payment | None:
    existing = await work.repo.by_request_id(command.request_id)
    if existing is None:
        return None
    if existing.request_hash != command.request_hash():
        raise RequestIdReused(
            "request_id was used for a different payment",
            metadata={"payment_id": existing.payment_id},
        )
    return existing


async def _record(deps: PaymentDeps, command: CreatePayment, channel: str) -> tuple[Payment, bool]:
    """Stores the new payment order (True), or returns the one this request id created before."""
    now = deps.clock()
    async with deps.uow() as work:
        if (previous := await _replay(work, command)) is not None:
            return previous, False
        if not await work.repo.merchant_active(command.merchant_id):
            raise MerchantNotFound(
                "merchant not found or not active", metadata={"merchant_id": command.merchant_id}
            )
        if await work.repo.order_paid(command.merchant_id, command.merchant_order_no):
            raise OrderAlreadyPaid("the business order is already paid")
        payment = Payment(
            payment_id=new_id("pay"),
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
        )
        if await work.repo.add(payment, now.astimezone(ACCOUNTING_ZONE).date()):
            await work.commit()
            return payment, True
        await work.rollback()
        raced = await _replay(work, command)
        assert raced is not None
        return raced, False


async def _fail(deps: PaymentDeps, payment: Payment, reason: str) -> Payment:
    """Fails a payment the channel never saw (the payer was refused before any charge)."""
    async with deps.uow() as work:
        updated = payment.fail(reason, deps.clock())
        await work.repo.save(updated)
        await work.repo.add_event(
            updated.merchant_id, "payment.failed", updated.payment_id, "", updated.updated_at
        )
        await work.commit()
    return updated


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


def _channel_refusal(deps: PaymentDeps, channel_name: str, payment: Payment) -> str | None:
    """Why the channel cannot take this charge now, known before asking it; None if it can."""
    if (reopening := deps.reopens_at(channel_name)) is not None:
        # Its day-cut or outside its hours: the channel would refuse or lose the charge.
        _log.info(
            "channel closed", extra={"channel": channel_name, "reopens_at": reopening.isoformat()}
        )
        return "CHANNEL_CLOSED"
    if deps.over_channel_limit(channel_name, payment.amount.minor_units):
        return "CHANNEL_AMOUNT_LIMIT"
    return None


async def create_payment(deps: PaymentDeps, command: CreatePayment) -> Payment:
    channel = deps.channels.get(command.method)
    if channel is None:
        raise ChannelNotSupported(
            "no channel serves this payment method", metadata={"method": command.method.value}
        )
    payment, created = await _record(deps, command, channel.name)
    _annotate(payment)
    if not created:
        return payment
    if (refusal := _channel_refusal(deps, channel.name, payment)) is not None:
        payment = await _fail(deps, payment, refusal)
        _annotate(payment)
        return payment
    # A wallet pays from the buyer's wallet account: no bound card to check; limits still apply.
    payer = PayerCheck(eligible=True)
    if command.method.needs_card:
        payer = await deps.identity.check_payer(
            command.payer_user_id, command.amount, command.card_id
        )
    if not payer.eligible:
        reason = payer.reason.removeprefix("INELIGIBILITY_REASON_")
        payment = await _fail(deps, payment, f"PAYER_{reason}")
        _annotate(payment)
        return payment
    decision = await deps.identity.reserve_limit(
        payment.payment_id, command.payer_user_id, command.amount, command.auth_factors
    )
    if not decision.reserved:
        payment = await _fail(deps, payment, f"PAYER_{decision.reason}")
        _annotate(payment)
        return payment
    answer = await channel.charge(
        ChannelCharge(payment.payment_id, payment.amount, payer.agreement_no, command.description)
    )
    if answer.outcome is ChannelOutcome.SUCCEEDED and channel.confirm_by_query:
        answer = await _confirmed(channel, payment.payment_id, answer)
    payment = await apply_answer(deps, payment.payment_id, answer, card_id=payer.card_id or None)
    _annotate(payment)
    _log.info(
        "payment settled", extra={"payment_id": payment.payment_id, "state": payment.state.value}
    )
    return payment


async def get_payment(uow: UnitOfWorkFactory, payment_id: str) -> Payment:
    async with uow() as work:
        payment = await work.repo.get(payment_id)
    if payment is None:
        raise PaymentNotFound("payment not found", metadata={"payment_id": payment_id})
    return payment
