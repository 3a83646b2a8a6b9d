"""Paying a business order: record, check the payer, charge the channel, post to the ledger."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from opentelemetry import trace

from gateway.domain import accounts
from gateway.domain.errors import (
    ChannelNotSupported,
    MerchantNotFound,
    OrderAlreadyPaid,
    PaymentNotFound,
    RequestIdReused,
)
from gateway.domain.model import CreatePayment, Payment, PaymentMethod, PaymentState
from gateway.domain.ports import (
    ChannelAdapter,
    ChannelAnswer,
    ChannelCharge,
    ChannelOutcome,
    IdentityPort,
    LedgerPosting,
)
from gateway.service_layer.outbox import (
    LEDGER_TRANSFER,
    LIMIT_COMMIT,
    LIMIT_RELEASE,
    OutboxRelay,
    current_traceparent,
    transfer_payload,
)
from gateway.service_layer.unit_of_work import UnitOfWork, UnitOfWorkFactory
from paysuite.ids import new_id
from paysuite.runtime.telemetry import current_trace_id

_log = logging.getLogger(__name__)

ACCOUNTING_ZONE = ZoneInfo("Asia/Shanghai")


@dataclass
class PaymentDeps:
    uow: UnitOfWorkFactory
    identity: IdentityPort
    channels: Mapping[PaymentMethod, ChannelAdapter]
    relay: OutboxRelay
    clock: Callable[[], datetime]


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


def _capture_postings(payment: Payment) -> list[LedgerPosting]:
    currency = payment.amount.currency
    return [
        LedgerPosting(
            accounts.channel_receivable(payment.channel, currency),
            accounts.merchant_payable(payment.merchant_id, currency),
            payment.amount,
        )
    ]


async def _settle(
    deps: PaymentDeps, payment: Payment, card_id: str, answer: ChannelAnswer
) -> Payment:
    """Applies the channel's answer; a success and its ledger posting commit together.

    The payer's limit reservation is committed on success and released on failure, through
    the outbox as well, so neither is lost if identity is unreachable right now.
    """
    outbox_ids: list[int | None] = []
    async with deps.uow() as work:
        current = await work.repo.get(payment.payment_id, for_update=True)
        assert current is not None
        if current.state.terminal:
            return current
        current = current.using_card(card_id)
        now = deps.clock()
        match answer.outcome:
            case ChannelOutcome.SUCCEEDED:
                updated = current.succeed(
                    answer.channel_transaction_id, answer.fee_minor_units, now
                )
                outbox_ids.append(
                    await work.repo.enqueue(
                        LEDGER_TRANSFER,
                        f"{payment.payment_id}:capture",
                        transfer_payload(
                            _capture_postings(updated),
                            "payment capture",
                            {
                                "payment_id": payment.payment_id,
                                "merchant_order_no": payment.merchant_order_no,
                            },
                        ),
                        current_traceparent(),
                        now,
                    )
                )
                outbox_ids.append(await _settle_limit(work, payment, LIMIT_COMMIT, now))
            case ChannelOutcome.FAILED:
                updated = current.fail(
                    answer.error_code or "CHANNEL_DECLINED", now, answer.channel_transaction_id
                )
                outbox_ids.append(await _settle_limit(work, payment, LIMIT_RELEASE, now))
            case _:
                # Unknown: the reservation stays until the payment is resolved.
                updated = current.unknown(now, answer.channel_transaction_id)
        await work.repo.save(updated)
        await work.commit()
    for outbox_id in outbox_ids:
        if outbox_id is not None:
            await deps.relay.deliver_now(outbox_id)
    return updated


async def _settle_limit(work: UnitOfWork, payment: Payment, kind: str, now: datetime) -> int | None:
    return await work.repo.enqueue(
        kind,
        f"{payment.payment_id}:{kind}",
        {"payment_id": payment.payment_id},
        current_traceparent(),
        now,
    )


async def _fail(deps: PaymentDeps, payment: Payment, reason: str) -> Payment:
    async with deps.uow() as work:
        updated = payment.fail(reason, deps.clock())
        await work.repo.save(updated)
        await work.commit()
    return updated


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
    payer = await deps.identity.check_payer(command.payer_user_id, command.amount, command.card_id)
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
    payment = await _settle(deps, payment, payer.card_id, answer)
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
