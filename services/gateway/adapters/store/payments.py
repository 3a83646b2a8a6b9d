"""Payment orders with their channel attempts, applied notifications and the channels' daily
volume: the payment aggregate, each change of it one guarded statement."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg

from gateway.adapters.store import rows
from gateway.adapters.store.outbox import enqueue_from, message_columns
from gateway.adapters.store.query_schedule import ScheduledQueries
from gateway.domain.answers import Change
from gateway.domain.attempts import ChannelAttempt
from gateway.domain.model import Payment, PaymentState
from paysuite.money import Money

ONE_SUCCESS_PER_ORDER = "one_success_per_business_order"
NOTIFICATION_KEY = "channel_notifications_pkey"

_RECORD = """
WITH m AS (
    SELECT fee_bps FROM merchants WHERE merchant_id = $4::text AND state = 'active'
), paid AS (
    SELECT EXISTS (
        SELECT 1 FROM payments
        WHERE merchant_id = $4::text AND merchant_order_no = $5::text AND state = 'succeeded'
    ) AS paid
), p AS (
    INSERT INTO payments (
        payment_id, request_id, request_hash, merchant_id, merchant_order_no, amount, currency,
        method, payer_user_id, card_id, description, channel, channel_transaction_id, state,
        failure_reason, fee, trace_id, accounting_date, created_at, updated_at, next_query_at,
        query_attempts, needs_reconciliation, refunded, purpose, merchant_fee, merchant_fee_bps,
        version, traceparent, platform_coupon
    )
    SELECT $1::text, $2::text, $3::text, $4::text, $5::text, $6, $7::text, $8::text,
           $9::text, $10::text, $11::text, $12::text, '', $13::text, $14::text, 0, $15::text,
           $16, $17, $17, $18, 0, false, 0, $19::text, 0, m.fee_bps, 0, $24::text, $25
    FROM m, paid WHERE NOT paid.paid
    ON CONFLICT (merchant_id, request_id) DO NOTHING
    RETURNING payment_id, merchant_id
), a AS (
    INSERT INTO channel_attempts (
        payment_id, attempt_no, channel, rule, reason, outcome, error_code, created_at,
        updated_at, volume_reserved
    )
    SELECT p.payment_id, 1, $12::text, $20::text, $21::text, '', '', $17, $17, $22
    FROM p WHERE $12::text <> ''
), e AS (
    INSERT INTO payment_events (merchant_id, type, payment_id, refund_id, created_at)
    SELECT p.merchant_id, $23::text, p.payment_id, '', $17 FROM p WHERE $23::text <> ''
)
SELECT (SELECT fee_bps FROM m) AS fee_bps, (SELECT paid FROM paid) AS paid,
       EXISTS (SELECT 1 FROM p) AS created
"""

_APPLY = f"""
WITH upd AS (
    UPDATE payments SET
        state = $2::text, channel = $3::text, card_id = $4::text, channel_transaction_id = $5::text,
        failure_reason = $6::text, fee = $7, updated_at = $8, refunded = $9,
        needs_reconciliation = $10, merchant_fee = $11,
        next_query_at = CASE WHEN $12 THEN $13 ELSE next_query_at END,
        query_attempts = CASE WHEN $12 THEN $14 ELSE query_attempts END,
        version = version + 1
    WHERE payment_id = $1::text AND version = $15
    RETURNING payment_id, merchant_id
), att AS (
    UPDATE channel_attempts a SET outcome = $16::text, error_code = $17::text, updated_at = $8
    FROM upd
    WHERE $18 AND a.payment_id = upd.payment_id
      AND a.attempt_no = (SELECT max(attempt_no) FROM channel_attempts WHERE payment_id = $1::text)
), box AS ({enqueue_from("upd", "$19", "$8", "$20")}
), ev AS (
    INSERT INTO payment_events (merchant_id, type, payment_id, refund_id, created_at)
    SELECT upd.merchant_id, $23::text, upd.payment_id, '', $8 FROM upd WHERE $23::text <> ''
), note AS (
    INSERT INTO channel_notifications (channel, notification_id, payment_id, outcome, received_at)
    SELECT $24::text, $25::text, upd.payment_id, $26::text, $8 FROM upd WHERE $25::text <> ''
)
SELECT count(*) FROM upd
"""

_SAVE = """
UPDATE payments SET
    state = $2, channel = $3, card_id = $4, channel_transaction_id = $5, failure_reason = $6,
    fee = $7, updated_at = $8, refunded = $9, needs_reconciliation = $10, merchant_fee = $11,
    version = version + 1
WHERE payment_id = $1
"""

_RELEASE_VOLUME = """
WITH released AS (
    UPDATE channel_attempts SET volume_reserved = false
    WHERE payment_id = $1 AND volume_reserved
    RETURNING channel
)
UPDATE channel_daily_volume v SET reserved = v.reserved - (p.amount - p.platform_coupon)
FROM released r, payments p
WHERE p.payment_id = $1 AND v.channel = r.channel
  AND v.accounting_date = p.accounting_date AND v.currency = p.currency
"""


class Applied(enum.Enum):
    """What became of a guarded change."""

    APPLIED = "applied"
    STALE = "stale"  # the payment changed since it was read: read it again and decide again
    ORDER_PAID = "order_paid"  # another payment of the business order succeeded first
    NOTIFICATION_SEEN = "notification_seen"  # this notification was applied before


@dataclass(frozen=True, slots=True)
class Recorded:
    """A new payment's fate: created (with the merchant's fee rate), or why not."""

    created: bool
    merchant_active: bool
    order_paid: bool
    fee_bps: int


@dataclass(frozen=True, slots=True)
class Notified:
    """A notified payment (None: no such payment), whether this notification was applied to
    it before, and the traceparent it was created under ('' when none was kept)."""

    payment: Payment | None
    applied_before: bool = False
    traceparent: str = ""


@dataclass(frozen=True, slots=True)
class NotificationRecord:
    channel: str
    notification_id: str
    outcome: str


def changeable_columns(payment: Payment) -> tuple[Any, ...]:
    return (
        payment.payment_id,
        payment.state.value,
        payment.channel,
        payment.card_id,
        payment.channel_transaction_id,
        payment.failure_reason,
        payment.fee,
        payment.updated_at,
        payment.refunded,
        payment.needs_reconciliation,
        payment.merchant_fee,
    )


def record_columns(
    payment: Payment,
    accounting_date: date,
    attempt: ChannelAttempt | None,
    next_query_at: datetime | None,
    event: str,
    traceparent: str,
) -> tuple[Any, ...]:
    """A new payment's values, in the order of the record statements' parameters."""
    return (
        payment.payment_id,
        payment.request_id,
        payment.request_hash,
        payment.merchant_id,
        payment.merchant_order_no,
        payment.amount.minor_units,
        payment.amount.currency,
        payment.method.value,
        payment.payer_user_id,
        payment.card_id,
        payment.description,
        payment.channel,
        payment.state.value,
        payment.failure_reason,
        payment.trace_id,
        accounting_date,
        payment.created_at,
        next_query_at,
        payment.purpose.value,
        attempt.rule if attempt else "",
        attempt.reason if attempt else "",
        attempt.volume_reserved if attempt else False,
        event,
        traceparent,
        payment.platform_coupon,
    )


def recorded(row: Any) -> Recorded:
    """A record statement's answer about one payment."""
    return Recorded(
        created=row["created"],
        merchant_active=row["fee_bps"] is not None,
        order_paid=row["paid"],
        fee_bps=row["fee_bps"] or 0,
    )


class PaymentStore(ScheduledQueries):
    _table = "payments"
    _key = "payment_id"

    def __init__(self, connection: asyncpg.Connection) -> None:
        self._conn = connection

    async def record(
        self,
        payment: Payment,
        accounting_date: date,
        first_attempt: ChannelAttempt | None,
        next_query_at: datetime | None,
        event: str = "",
        traceparent: str = "",
    ) -> Recorded:
        """Inserts a new payment order, with its first attempt and an event, if the merchant is
        active, the business order not yet paid and the request id not taken."""
        row = await self._conn.fetchrow(
            _RECORD,
            *record_columns(
                payment, accounting_date, first_attempt, next_query_at, event, traceparent
            ),
        )
        return recorded(row)

    async def apply(
        self,
        change: Change,
        expected_version: int,
        traceparent: str,
        notification: NotificationRecord | None = None,
    ) -> Applied:
        """Writes the change if the payment is still at the version it was decided on."""
        payment, schedule, attempt = change.payment, change.schedule, change.attempt
        messages = change.messages
        try:
            updated = await self._conn.fetchval(
                _APPLY,
                *changeable_columns(payment),
                schedule is not None,
                schedule.at if schedule else None,
                schedule.attempts if schedule else 0,
                expected_version,
                attempt[0] if attempt else "",
                attempt[1][:64] if attempt else "",
                attempt is not None,
                traceparent,
                *message_columns(messages),
                change.event,
                notification.channel if notification else "",
                notification.notification_id if notification else "",
                notification.outcome if notification else "",
            )
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name == ONE_SUCCESS_PER_ORDER:
                return Applied.ORDER_PAID
            if exc.constraint_name == NOTIFICATION_KEY:
                return Applied.NOTIFICATION_SEEN
            raise
        return Applied.APPLIED if updated else Applied.STALE

    async def traceparents(self, payment_ids: Sequence[str]) -> dict[str, str]:
        """The traceparent each payment was created under (those that have one)."""
        rows = await self._conn.fetch(
            "SELECT payment_id, traceparent FROM payments "
            "WHERE payment_id = ANY($1::text[]) AND traceparent <> ''",
            list(payment_ids),
        )
        return {row["payment_id"]: row["traceparent"] for row in rows}

    async def save(self, payment: Payment) -> None:
        """Writes a payment read under its row lock."""
        await self._conn.execute(_SAVE, *changeable_columns(payment))

    async def get(self, payment_id: str, *, for_update: bool = False) -> Payment | None:
        lock = " FOR UPDATE" if for_update else ""
        row = await self._conn.fetchrow(
            f"SELECT {rows.PAYMENT_COLUMNS} FROM payments WHERE payment_id = $1{lock}", payment_id
        )
        return rows.payment(row) if row else None

    async def by_request_id(self, merchant_id: str, request_id: str) -> Payment | None:
        """The merchant's payment of this request id: ids are unique per merchant only."""
        row = await self._conn.fetchrow(
            f"SELECT {rows.PAYMENT_COLUMNS} FROM payments "
            "WHERE merchant_id = $1 AND request_id = $2",
            merchant_id,
            request_id,
        )
        return rows.payment(row) if row else None

    async def order_paid(self, merchant_id: str, merchant_order_no: str) -> bool:
        return bool(
            await self._conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM payments WHERE merchant_id = $1 "
                "AND merchant_order_no = $2 AND state = 'succeeded')",
                merchant_id,
                merchant_order_no,
            )
        )

    async def duplicates_to_refund(self, limit: int) -> list[Payment]:
        """Duplicate payments whose automatic refund was never reserved (a crash between)."""
        found = await self._conn.fetch(
            f"SELECT {rows.PAYMENT_COLUMNS} FROM payments "
            "WHERE state = $1 AND refunded = 0 LIMIT $2",
            PaymentState.DUPLICATE.value,
            limit,
        )
        return [rows.payment(r) for r in found]

    async def list_payments(
        self,
        merchant_id: str,
        order_no: str,
        state: PaymentState | None,
        day: date | None,
        before: tuple[datetime, str] | None,
        limit: int,
    ) -> list[Payment]:
        found = await self._conn.fetch(
            f"""
            SELECT {rows.PAYMENT_COLUMNS} FROM payments
            WHERE merchant_id = $1
              AND ($2 = '' OR merchant_order_no = $2)
              AND ($3::text IS NULL OR state = $3)
              AND ($4::date IS NULL OR accounting_date = $4)
              AND ($5::timestamptz IS NULL OR (created_at, payment_id) < ($5, $6))
            ORDER BY created_at DESC, payment_id DESC
            LIMIT $7
            """,
            merchant_id,
            order_no,
            state.value if state else None,
            day,
            before[0] if before else None,
            before[1] if before else "",
            limit,
        )
        return [rows.payment(r) for r in found]

    async def channel_page(self, channel: str, day: date, after: str, limit: int) -> list[Payment]:
        found = await self._conn.fetch(
            f"""
            SELECT {rows.PAYMENT_COLUMNS} FROM payments
            WHERE channel = $1 AND accounting_date = $2 AND payment_id > $3
            ORDER BY payment_id LIMIT $4
            """,
            channel,
            day,
            after,
            limit,
        )
        return [rows.payment(r) for r in found]

    async def add_attempt(self, attempt: ChannelAttempt) -> None:
        await self._conn.execute(
            """
            INSERT INTO channel_attempts (
                payment_id, attempt_no, channel, rule, reason, outcome, error_code, created_at,
                updated_at, volume_reserved
            ) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
            """,
            attempt.payment_id,
            attempt.attempt_no,
            attempt.channel,
            attempt.rule,
            attempt.reason,
            attempt.outcome,
            attempt.error_code[:64],
            attempt.created_at,
            attempt.updated_at,
            attempt.volume_reserved,
        )

    async def attempt_answered(
        self, payment_id: str, outcome: str, error_code: str, now: datetime
    ) -> None:
        """Records the channel's latest word on the payment's current (last) attempt."""
        await self._conn.execute(
            """
            UPDATE channel_attempts SET outcome = $2, error_code = $3, updated_at = $4
            WHERE payment_id = $1 AND attempt_no =
                (SELECT max(attempt_no) FROM channel_attempts WHERE payment_id = $1)
            """,
            payment_id,
            outcome,
            error_code[:64],
            now,
        )

    async def attempts(self, payment_id: str) -> list[ChannelAttempt]:
        found = await self._conn.fetch(
            "SELECT * FROM channel_attempts WHERE payment_id = $1 ORDER BY attempt_no", payment_id
        )
        return [rows.attempt(r) for r in found]

    async def reserve_volume(self, channel: str, day: date, amount: Money, limit: int) -> bool:
        """Adds the amount to the channel's volume of the day unless that would pass the limit;
        the row stays locked until the transaction ends."""
        await self._conn.execute(
            "INSERT INTO channel_daily_volume (channel, accounting_date, currency, reserved) "
            "VALUES ($1, $2, $3, 0) ON CONFLICT DO NOTHING",
            channel,
            day,
            amount.currency,
        )
        reserved = await self._conn.fetchval(
            """
            UPDATE channel_daily_volume SET reserved = reserved + $4
            WHERE channel = $1 AND accounting_date = $2 AND currency = $3
              AND reserved + $4 <= $5
            RETURNING reserved
            """,
            channel,
            day,
            amount.currency,
            amount.minor_units,
            limit,
        )
        return reserved is not None

    async def release_volume(self, payment_id: str) -> None:
        """Gives back what the payment's attempts reserved of their channels' daily volume."""
        await self._conn.execute(_RELEASE_VOLUME, payment_id)

    async def get_notified(self, payment_id: str, channel: str, notification_id: str) -> Notified:
        """The payment, whether this notification of the channel was applied to it, and its
        traceparent: one round trip for everything a notification is checked against."""
        row = await self._conn.fetchrow(
            f"""
            SELECT {rows.PAYMENT_COLUMNS}, traceparent,
                   EXISTS (SELECT 1 FROM channel_notifications
                           WHERE channel = $2 AND notification_id = $3) AS notified
            FROM payments WHERE payment_id = $1
            """,
            payment_id,
            channel,
            notification_id,
        )
        if row is None:
            return Notified(None)
        return Notified(rows.payment(row), row["notified"], row["traceparent"])
