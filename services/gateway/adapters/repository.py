"""Reads and writes payment orders, merchants, outbox rows and card verifications."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, literal, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.adapters.attempt_queries import AttemptQueries
from gateway.adapters.callback_queries import CallbackQueries
from gateway.adapters.notification_queries import NotificationQueries
from gateway.adapters.tables import (
    card_verifications,
    merchants,
    outbox,
    payment_events,
    payments,
    refunds,
)
from gateway.domain.model import Payment, PaymentMethod, PaymentPurpose, PaymentState
from gateway.domain.ports import CardVerification, VerifyElement, VerifyOutcome
from gateway.domain.refunds import Refund, RefundState
from gateway.domain.verification import CardVerificationRecord
from paysuite.money import Money


def _payment(row: Any) -> Payment:
    return Payment(
        payment_id=row.payment_id,
        request_id=row.request_id,
        request_hash=row.request_hash,
        merchant_id=row.merchant_id,
        merchant_order_no=row.merchant_order_no,
        amount=Money(row.currency, row.amount),
        method=PaymentMethod(row.method),
        payer_user_id=row.payer_user_id,
        state=PaymentState(row.state),
        channel=row.channel,
        trace_id=row.trace_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        card_id=row.card_id,
        description=row.description,
        channel_transaction_id=row.channel_transaction_id,
        failure_reason=row.failure_reason,
        fee=row.fee,
        refunded=row.refunded,
        needs_reconciliation=row.needs_reconciliation,
        purpose=PaymentPurpose(row.purpose),
        merchant_fee=row.merchant_fee,
    )


def _changeable(payment: Payment) -> dict[str, Any]:
    return {
        "state": payment.state.value,
        "channel": payment.channel,
        "card_id": payment.card_id,
        "channel_transaction_id": payment.channel_transaction_id,
        "failure_reason": payment.failure_reason,
        "fee": payment.fee,
        "updated_at": payment.updated_at,
        "refunded": payment.refunded,
        "needs_reconciliation": payment.needs_reconciliation,
        "merchant_fee": payment.merchant_fee,
    }


def _card_verification(row: Any) -> CardVerificationRecord:
    return CardVerificationRecord(
        request_id=row.request_id,
        request_hash=row.request_hash,
        channel=row.channel,
        result=CardVerification(
            outcome=VerifyOutcome(row.outcome),
            mismatched=tuple(VerifyElement(e) for e in row.mismatched),
            card_state=row.card_state,
            reference=row.channel_reference,
            bank_code=row.bank_code,
            agreement_no=row.agreement_no,
        ),
        created_at=row.created_at,
    )


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    outbox_id: int
    kind: str
    idempotency_key: str
    payload: dict[str, Any]
    traceparent: str
    attempts: int


def _refund(row: Any) -> Refund:
    return Refund(
        refund_id=row.refund_id,
        request_id=row.request_id,
        request_hash=row.request_hash,
        payment_id=row.payment_id,
        amount=Money(row.currency, row.amount),
        state=RefundState(row.state),
        reason=row.reason,
        trace_id=row.trace_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        channel_refund_id=row.channel_refund_id,
        failure_reason=row.failure_reason,
    )


@dataclass(frozen=True, slots=True)
class PaymentEvent:
    sequence: int
    merchant_id: str
    type: str
    payment_id: str
    refund_id: str
    created_at: datetime


class StatusQueries:
    """Status resolution schedule, payment events, payment listing and refunds."""

    _conn: AsyncConnection

    async def schedule_query(
        self, payment_id: str, at: datetime | None, attempts: int, hand_over: bool = False
    ) -> None:
        await self._conn.execute(
            update(payments)
            .where(payments.c.payment_id == payment_id)
            .values(next_query_at=at, query_attempts=attempts, needs_reconciliation=hand_over)
        )

    async def due_for_query(
        self, now: datetime, limit: int, channels: Sequence[str]
    ) -> list[tuple[str, int]]:
        """Unresolved payments on these channels whose next query is due; other janitors skip
        them."""
        rows = (
            await self._conn.execute(
                select(payments.c.payment_id, payments.c.query_attempts)
                .where(
                    payments.c.channel.in_(channels),
                    payments.c.state.in_(("processing", "unknown")),
                    payments.c.needs_reconciliation.is_(False),
                    payments.c.next_query_at <= now,
                )
                .order_by(payments.c.next_query_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
        return [(r.payment_id, r.query_attempts) for r in rows]

    async def add_event(
        self, merchant_id: str, type_: str, payment_id: str, refund_id: str, now: datetime
    ) -> None:
        """Adds an event; the merchant's event lock is held to commit (see service events)."""
        await self._conn.execute(
            text("SELECT pg_advisory_xact_lock(hashtext('payment-events:' || :merchant))"),
            {"merchant": merchant_id},
        )
        await self._conn.execute(
            insert(payment_events).values(
                merchant_id=merchant_id,
                type=type_,
                payment_id=payment_id,
                refund_id=refund_id,
                created_at=now,
            )
        )

    async def events_after(self, merchant_id: str, sequence: int, limit: int) -> list[PaymentEvent]:
        rows = (
            await self._conn.execute(
                select(payment_events)
                .where(
                    payment_events.c.merchant_id == merchant_id,
                    payment_events.c.sequence > sequence,
                )
                .order_by(payment_events.c.sequence)
                .limit(limit)
            )
        ).all()
        return [
            PaymentEvent(r.sequence, r.merchant_id, r.type, r.payment_id, r.refund_id, r.created_at)
            for r in rows
        ]

    async def list_payments(
        self,
        merchant_id: str,
        order_no: str,
        state: PaymentState | None,
        day: date | None,
        before: tuple[datetime, str] | None,
        limit: int,
    ) -> list[Payment]:
        conditions = [payments.c.merchant_id == merchant_id]
        if order_no:
            conditions.append(payments.c.merchant_order_no == order_no)
        if state is not None:
            conditions.append(payments.c.state == state.value)
        if day is not None:
            conditions.append(payments.c.accounting_date == day)
        if before is not None:
            conditions.append(
                tuple_(payments.c.created_at, payments.c.payment_id) < tuple_(before[0], before[1])
            )
        rows = (
            await self._conn.execute(
                select(payments)
                .where(and_(*conditions))
                .order_by(payments.c.created_at.desc(), payments.c.payment_id.desc())
                .limit(limit)
            )
        ).all()
        return [_payment(r) for r in rows]

    async def refund_by_request(self, request_id: str) -> Refund | None:
        row = (
            await self._conn.execute(select(refunds).where(refunds.c.request_id == request_id))
        ).first()
        return _refund(row) if row else None

    async def get_refund(self, refund_id: str, *, for_update: bool = False) -> Refund | None:
        statement = select(refunds).where(refunds.c.refund_id == refund_id)
        if for_update:
            statement = statement.with_for_update()
        row = (await self._conn.execute(statement)).first()
        return _refund(row) if row else None

    async def claim_unanswered_refunds(
        self,
        now: datetime,
        first_wait: timedelta,
        longest_wait: timedelta,
        limit: int,
        channels: Sequence[str],
    ) -> list[str]:
        """Refunds on these channels still processing and due again, stamped now so others
        skip them.

        Each waits as long as it has been pending so far (so the waits double), from
        first_wait up to longest_wait.
        """
        pending_for = refunds.c.updated_at - refunds.c.created_at
        wait = func.greatest(first_wait, func.least(longest_wait, pending_for))
        on_channels = select(payments.c.payment_id).where(
            payments.c.payment_id == refunds.c.payment_id, payments.c.channel.in_(channels)
        )
        claimed = (
            select(refunds.c.refund_id)
            .where(
                refunds.c.state == RefundState.PROCESSING.value,
                refunds.c.updated_at <= literal(now) - wait,
                on_channels.exists(),
            )
            .order_by(refunds.c.updated_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        rows = await self._conn.execute(
            update(refunds)
            .where(refunds.c.refund_id.in_(claimed))
            .values(updated_at=now)
            .returning(refunds.c.refund_id)
        )
        return [r.refund_id for r in rows]

    async def refunds_succeeded(self, payment_id: str) -> int:
        """What succeeded refunds of the payment have given back so far (minor units)."""
        total = await self._conn.scalar(
            select(func.coalesce(func.sum(refunds.c.amount), 0)).where(
                refunds.c.payment_id == payment_id,
                refunds.c.state == RefundState.SUCCEEDED.value,
            )
        )
        return int(total or 0)

    async def add_refund(self, refund: Refund) -> bool:
        statement = (
            insert(refunds)
            .values(
                refund_id=refund.refund_id,
                request_id=refund.request_id,
                request_hash=refund.request_hash,
                payment_id=refund.payment_id,
                amount=refund.amount.minor_units,
                currency=refund.amount.currency,
                state=refund.state.value,
                reason=refund.reason,
                channel_refund_id=refund.channel_refund_id,
                failure_reason=refund.failure_reason,
                trace_id=refund.trace_id,
                created_at=refund.created_at,
                updated_at=refund.updated_at,
            )
            .on_conflict_do_nothing(index_elements=["request_id"])
            .returning(refunds.c.refund_id)
        )
        return (await self._conn.execute(statement)).first() is not None

    async def save_refund(self, refund: Refund) -> None:
        await self._conn.execute(
            update(refunds)
            .where(refunds.c.refund_id == refund.refund_id)
            .values(
                state=refund.state.value,
                channel_refund_id=refund.channel_refund_id,
                failure_reason=refund.failure_reason,
                updated_at=refund.updated_at,
            )
        )


class GatewayRepository(StatusQueries, CallbackQueries, NotificationQueries, AttemptQueries):
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def merchant_active(self, merchant_id: str) -> bool:
        row = (
            await self._conn.execute(
                select(merchants.c.state).where(merchants.c.merchant_id == merchant_id)
            )
        ).first()
        return row is not None and row.state == "active"

    async def upsert_merchant(
        self, merchant_id: str, name: str, fee_bps: int, now: datetime
    ) -> None:
        """Registers the merchant as active, or updates its name and fee rate."""
        statement = insert(merchants).values(
            merchant_id=merchant_id, name=name, state="active", created_at=now, fee_bps=fee_bps
        )
        await self._conn.execute(
            statement.on_conflict_do_update(
                index_elements=["merchant_id"],
                set_={"name": statement.excluded.name, "fee_bps": statement.excluded.fee_bps},
            )
        )

    async def merchant_fee_bps(self, merchant_id: str) -> int:
        rate = await self._conn.scalar(
            select(merchants.c.fee_bps).where(merchants.c.merchant_id == merchant_id)
        )
        return int(rate or 0)

    async def by_request_id(self, request_id: str) -> Payment | None:
        row = (
            await self._conn.execute(select(payments).where(payments.c.request_id == request_id))
        ).first()
        return _payment(row) if row else None

    async def get(self, payment_id: str, *, for_update: bool = False) -> Payment | None:
        statement = select(payments).where(payments.c.payment_id == payment_id)
        if for_update:
            statement = statement.with_for_update()
        row = (await self._conn.execute(statement)).first()
        return _payment(row) if row else None

    async def order_paid(self, merchant_id: str, merchant_order_no: str) -> bool:
        row = (
            await self._conn.execute(
                select(payments.c.payment_id).where(
                    and_(
                        payments.c.merchant_id == merchant_id,
                        payments.c.merchant_order_no == merchant_order_no,
                        payments.c.state == PaymentState.SUCCEEDED.value,
                    )
                )
            )
        ).first()
        return row is not None

    async def lock_business_order(self, merchant_id: str, merchant_order_no: str) -> None:
        """Serialises successes of one business order until the transaction ends."""
        await self._conn.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:order, 0))"),
            {"order": f"payment-order:{merchant_id}:{merchant_order_no}"},
        )

    async def duplicates_to_refund(self, limit: int) -> list[Payment]:
        """Duplicate payments whose automatic refund was never reserved (a crash between)."""
        rows = (
            await self._conn.execute(
                select(payments)
                .where(
                    payments.c.state == PaymentState.DUPLICATE.value,
                    payments.c.refunded == 0,
                )
                .limit(limit)
            )
        ).all()
        return [_payment(row) for row in rows]

    async def add(self, payment: Payment, accounting_date: date) -> bool:
        """Inserts a new payment order; False when its request_id is taken."""
        values = {
            "payment_id": payment.payment_id,
            "request_id": payment.request_id,
            "request_hash": payment.request_hash,
            "merchant_id": payment.merchant_id,
            "merchant_order_no": payment.merchant_order_no,
            "amount": payment.amount.minor_units,
            "currency": payment.amount.currency,
            "method": payment.method.value,
            "payer_user_id": payment.payer_user_id,
            "description": payment.description,
            "trace_id": payment.trace_id,
            "purpose": payment.purpose.value,
            "accounting_date": accounting_date,
            "created_at": payment.created_at,
            **_changeable(payment),
        }
        statement = (
            insert(payments)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["request_id"])
            .returning(payments.c.payment_id)
        )
        return (await self._conn.execute(statement)).first() is not None

    async def save(self, payment: Payment) -> None:
        await self._conn.execute(
            update(payments)
            .where(payments.c.payment_id == payment.payment_id)
            .values(**_changeable(payment))
        )

    async def channel_page(self, channel: str, day: date, after: str, limit: int) -> list[Payment]:
        rows = (
            await self._conn.execute(
                select(payments)
                .where(
                    payments.c.channel == channel,
                    payments.c.accounting_date == day,
                    payments.c.payment_id > after,
                )
                .order_by(payments.c.payment_id)
                .limit(limit)
            )
        ).all()
        return [_payment(row) for row in rows]

    async def enqueue(
        self,
        kind: str,
        idempotency_key: str,
        payload: dict[str, Any],
        traceparent: str,
        now: datetime,
    ) -> int | None:
        statement = (
            insert(outbox)
            .values(
                kind=kind,
                idempotency_key=idempotency_key,
                payload=payload,
                traceparent=traceparent,
                attempts=0,
                last_error="",
                created_at=now,
                next_attempt_at=now,
            )
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(outbox.c.outbox_id)
        )
        row = (await self._conn.execute(statement)).first()
        return int(row.outbox_id) if row else None

    async def claim_due(
        self, now: datetime, limit: int, outbox_id: int | None = None
    ) -> list[OutboxMessage]:
        """Locks due, undelivered messages; other relays skip them rather than wait."""
        statement = select(outbox).where(outbox.c.delivered_at.is_(None))
        if outbox_id is not None:
            statement = statement.where(outbox.c.outbox_id == outbox_id)
        else:
            statement = statement.where(outbox.c.next_attempt_at <= now)
        statement = (
            statement.order_by(outbox.c.outbox_id).limit(limit).with_for_update(skip_locked=True)
        )
        rows = (await self._conn.execute(statement)).all()
        return [
            OutboxMessage(
                r.outbox_id, r.kind, r.idempotency_key, r.payload, r.traceparent, r.attempts
            )
            for r in rows
        ]

    async def mark_delivered(self, outbox_id: int, now: datetime) -> None:
        await self._conn.execute(
            update(outbox).where(outbox.c.outbox_id == outbox_id).values(delivered_at=now)
        )

    async def mark_failed(self, outbox_id: int, error: str, retry_at: datetime) -> None:
        await self._conn.execute(
            update(outbox)
            .where(outbox.c.outbox_id == outbox_id)
            .values(
                attempts=outbox.c.attempts + 1, last_error=error[:500], next_attempt_at=retry_at
            )
        )

    async def card_verification(self, request_id: str) -> CardVerificationRecord | None:
        row = (
            await self._conn.execute(
                select(card_verifications).where(card_verifications.c.request_id == request_id)
            )
        ).first()
        return _card_verification(row) if row else None

    async def add_card_verification(self, record: CardVerificationRecord) -> bool:
        """Inserts a verification; False when its request_id is taken."""
        result = record.result
        statement = (
            insert(card_verifications)
            .values(
                request_id=record.request_id,
                request_hash=record.request_hash,
                channel=record.channel,
                outcome=result.outcome.value,
                mismatched=[e.value for e in result.mismatched],
                card_state=result.card_state,
                channel_reference=result.reference,
                bank_code=result.bank_code,
                agreement_no=result.agreement_no,
                created_at=record.created_at,
            )
            .on_conflict_do_nothing(index_elements=["request_id"])
            .returning(card_verifications.c.request_id)
        )
        return (await self._conn.execute(statement)).first() is not None
