"""Applying a channel's answer to a payment: once definite, with its money and its events.

A success commits with its ledger posting and the payer's limit commit in the outbox (a
success on a business order another payment already paid is a duplicate, refunded in full); a
failure with the limit release; an indefinite answer schedules a query. A definite answer
that contradicts a final state is not applied: the payment is flagged for reconciliation.
"""

from __future__ import annotations

from datetime import datetime

from gateway.domain import accounts
from gateway.domain.model import Payment, PaymentState
from gateway.domain.ports import (
    ChannelAnswer,
    ChannelNotification,
    ChannelOutcome,
    LedgerPosting,
)
from gateway.domain.status import next_query_delay
from gateway.service_layer.deps import PaymentDeps
from gateway.service_layer.duplicates import refund_duplicate
from gateway.service_layer.outbox import (
    LEDGER_TRANSFER,
    LIMIT_COMMIT,
    LIMIT_RELEASE,
    current_traceparent,
    transfer_payload,
)
from gateway.service_layer.unit_of_work import UnitOfWork
from paysuite.money import Money


def capture_postings(payment: Payment) -> list[LedgerPosting]:
    """The merchant is owed the amount less the platform's fee (a top-up: the payer's wallet, all
    of it); the channel owes the amount less the fee it keeps."""
    currency = payment.amount.currency
    receivable = accounts.channel_receivable(payment.channel, currency)
    kept = payment.merchant_fee
    postings = [
        LedgerPosting(
            receivable, payment.payee_account, Money(currency, payment.amount.minor_units - kept)
        )
    ]
    if kept > 0:
        postings.append(
            LedgerPosting(receivable, accounts.fee_income(currency), Money(currency, kept))
        )
    if payment.fee > 0:
        postings.append(
            LedgerPosting(
                accounts.channel_fee_expense(currency), receivable, Money(currency, payment.fee)
            )
        )
    return postings


async def _enqueue_limit(
    work: UnitOfWork, payment: Payment, kind: str, now: datetime
) -> int | None:
    return await work.repo.enqueue(
        kind,
        f"{payment.payment_id}:{kind}",
        {"payment_id": payment.payment_id},
        current_traceparent(),
        now,
    )


def _contradicts(state: PaymentState, outcome: ChannelOutcome) -> bool:
    return (state.captured and outcome is ChannelOutcome.FAILED) or (
        state in (PaymentState.FAILED, PaymentState.CLOSED) and outcome is ChannelOutcome.SUCCEEDED
    )


async def apply_answer(
    deps: PaymentDeps,
    payment_id: str,
    answer: ChannelAnswer,
    *,
    card_id: str | None = None,
    closing: bool = False,
    notification: ChannelNotification | None = None,
) -> Payment:
    """Applies the answer; one that came by notification is recorded with it, and a
    notification recorded before (a resent copy) changes nothing."""
    outbox_ids: list[int | None] = []
    async with deps.uow() as work:
        current = await work.repo.get(payment_id, for_update=True)
        assert current is not None
        now = deps.clock()
        if notification is not None and not await work.repo.add_notification(
            current.channel,
            notification.notification_id,
            payment_id,
            answer.outcome.value,
            now,
        ):
            return current
        if current.state.terminal:
            if _contradicts(current.state, answer.outcome) and not current.needs_reconciliation:
                await work.repo.schedule_query(payment_id, None, 0, hand_over=True)
                await work.repo.add_event(
                    current.merchant_id, "payment.exception", payment_id, "", now
                )
            await work.commit()
            return current
        if card_id is not None:
            current = current.using_card(card_id)
        match answer.outcome:
            case ChannelOutcome.SUCCEEDED:
                await work.repo.lock_business_order(current.merchant_id, current.merchant_order_no)
                paid_before = await work.repo.order_paid(
                    current.merchant_id, current.merchant_order_no
                )
                if paid_before:
                    updated = current.duplicate(
                        answer.channel_transaction_id, answer.fee_minor_units, now
                    )
                else:
                    updated = current.succeed(
                        answer.channel_transaction_id,
                        answer.fee_minor_units,
                        now,
                        await work.repo.merchant_fee_bps(current.merchant_id),
                    )
                outbox_ids.append(
                    await work.repo.enqueue(
                        LEDGER_TRANSFER,
                        f"{payment_id}:capture",
                        transfer_payload(
                            capture_postings(updated),
                            "payment capture",
                            {
                                "payment_id": payment_id,
                                "merchant_order_no": updated.merchant_order_no,
                            },
                        ),
                        current_traceparent(),
                        now,
                    )
                )
                # A duplicate's money goes back to the payer, so its limit use does too.
                limit = LIMIT_RELEASE if paid_before else LIMIT_COMMIT
                outbox_ids.append(await _enqueue_limit(work, updated, limit, now))
                await work.repo.schedule_query(payment_id, None, 0)
                await work.repo.add_event(
                    updated.merchant_id, f"payment.{updated.state.value}", payment_id, "", now
                )
            case ChannelOutcome.FAILED | ChannelOutcome.NOT_SENT:
                if closing:
                    updated = current.close(now)
                else:
                    updated = current.fail(
                        answer.error_code or "CHANNEL_DECLINED", now, answer.channel_transaction_id
                    )
                outbox_ids.append(await _enqueue_limit(work, updated, LIMIT_RELEASE, now))
                await work.repo.release_volume(payment_id)
                await work.repo.schedule_query(payment_id, None, 0)
                await work.repo.add_event(
                    updated.merchant_id, f"payment.{updated.state.value}", payment_id, "", now
                )
            case _:
                # Not definite: the limit reservation stays until the payment is resolved.
                updated = current.unknown(now, answer.channel_transaction_id)
                if current.state is PaymentState.PROCESSING:
                    delay = next_query_delay(0)
                    assert delay is not None
                    await work.repo.schedule_query(payment_id, now + delay, 0)
                    await work.repo.add_event(
                        updated.merchant_id, "payment.unknown", payment_id, "", now
                    )
        await work.repo.save(updated)
        # Some channels put their success code where errors go: an attempt that worked has none.
        error = "" if answer.outcome is ChannelOutcome.SUCCEEDED else answer.error_code
        await work.repo.attempt_answered(payment_id, answer.outcome.value, error, now)
        await work.commit()
    for outbox_id in outbox_ids:
        if outbox_id is not None:
            await deps.relay.deliver_now(outbox_id)
    if updated.state is PaymentState.DUPLICATE:
        await refund_duplicate(deps, updated)
    return updated
