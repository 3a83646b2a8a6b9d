"""New payments and channels' answers of several payments written in one statement each: the
same rows and guards as PaymentStore.record and PaymentStore.apply, a row of arrays per item."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg
import orjson

from gateway.adapters.store.payments import (
    Applied,
    NotificationRecord,
    PaymentStore,
    Recorded,
    changeable_columns,
    record_columns,
    recorded,
)
from gateway.domain.answers import Change
from gateway.domain.attempts import ChannelAttempt
from gateway.domain.model import Payment, PaymentState

_RECORD_MANY = """
WITH i AS (
    SELECT * FROM unnest(
        $1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[],
        $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[],
        $14::text[], $15::text[], $16::date[], $17::timestamptz[], $18::timestamptz[],
        $19::text[], $20::text[], $21::text[], $22::bool[], $23::text[], $24::text[],
        $25::bigint[]
    ) WITH ORDINALITY AS i(
        payment_id, request_id, request_hash, merchant_id, merchant_order_no, amount, currency,
        method, payer_user_id, card_id, description, channel, state, failure_reason, trace_id,
        accounting_date, created_at, next_query_at, purpose, rule, reason, volume_reserved,
        event, traceparent, platform_coupon, n
    )
), checked AS (
    SELECT i.*, m.fee_bps, s.paid IS NOT NULL AS paid
    FROM i LEFT JOIN merchants m ON m.merchant_id = i.merchant_id AND m.state = 'active'
    -- A lateral probe of the index for each payment, however few succeeded payments the
    -- table held when the plan was made: planned then, an EXISTS here became a hash of every
    -- succeeded payment, built again at each call as the table grew.
    LEFT JOIN LATERAL (
        SELECT true AS paid FROM payments p
        WHERE p.merchant_id = i.merchant_id AND p.merchant_order_no = i.merchant_order_no
          AND p.state = 'succeeded'
        LIMIT 1
    ) s ON true
), p AS (
    INSERT INTO payments (
        payment_id, request_id, request_hash, merchant_id, merchant_order_no, amount, currency,
        method, payer_user_id, card_id, description, channel, channel_transaction_id, state,
        failure_reason, fee, trace_id, accounting_date, created_at, updated_at, next_query_at,
        query_attempts, needs_reconciliation, refunded, purpose, merchant_fee, merchant_fee_bps,
        version, traceparent, platform_coupon
    )
    SELECT payment_id, request_id, request_hash, merchant_id, merchant_order_no, amount,
           currency, method, payer_user_id, card_id, description, channel, '', state,
           failure_reason, 0, trace_id, accounting_date, created_at, created_at, next_query_at,
           0, false, 0, purpose, 0, fee_bps, 0, traceparent, platform_coupon
    FROM checked WHERE fee_bps IS NOT NULL AND NOT paid
    ORDER BY n
    ON CONFLICT (merchant_id, request_id) DO NOTHING
    RETURNING payment_id
), a AS (
    INSERT INTO channel_attempts (
        payment_id, attempt_no, channel, rule, reason, outcome, error_code, created_at,
        updated_at, volume_reserved
    )
    SELECT i.payment_id, 1, i.channel, i.rule, i.reason, '', '', i.created_at, i.created_at,
           i.volume_reserved
    FROM p JOIN i USING (payment_id) WHERE i.channel <> ''
), e AS (
    INSERT INTO payment_events (merchant_id, type, payment_id, refund_id, created_at)
    SELECT i.merchant_id, i.event, i.payment_id, '', i.created_at
    FROM p JOIN i USING (payment_id) WHERE i.event <> ''
    ORDER BY i.n
)
SELECT c.fee_bps, c.paid, EXISTS (SELECT 1 FROM p WHERE p.payment_id = c.payment_id) AS created
FROM checked c ORDER BY c.n
"""

# Items whose notification was applied before, or whose success another payment of the
# business order has had, are left out (seen, paid) where the single statement would fail on
# the constraint: the others' writes go on.
_APPLY_MANY = """
WITH i AS (
    SELECT * FROM unnest(
        $1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[],
        $8::timestamptz[], $9::bigint[], $10::bool[], $11::bigint[], $12::bool[],
        $13::timestamptz[], $14::int[], $15::int[], $16::text[], $17::text[], $18::bool[],
        $19::text[], $20::text[], $21::text[], $22::text[], $23::text[], $24::text[],
        $25::text[]
    ) WITH ORDINALITY AS i(
        payment_id, state, channel, card_id, channel_transaction_id, failure_reason, fee,
        updated_at, refunded, needs_reconciliation, merchant_fee, reschedule, next_query_at,
        query_attempts, expected_version, outcome, error_code, answered, traceparent, event,
        note_channel, note_id, note_outcome, merchant_id, merchant_order_no, n
    )
), checked AS (
    SELECT i.*,
           i.note_id <> '' AND s.seen IS NOT NULL AS seen,
           i.state = 'succeeded' AND EXISTS (
               SELECT 1 FROM payments q
               WHERE q.merchant_id = i.merchant_id AND q.merchant_order_no = i.merchant_order_no
                 AND q.state = 'succeeded' AND q.payment_id <> i.payment_id
           ) AS paid
    FROM i
    -- Probed for each answer, as the record probes paid orders: an EXISTS planned while the
    -- table held fewer than about 4,000 notifications hashed them all at each call.
    LEFT JOIN LATERAL (
        SELECT true AS seen FROM channel_notifications c
        WHERE c.channel = i.note_channel AND c.notification_id = i.note_id
        LIMIT 1
    ) s ON true
), upd AS (
    UPDATE payments p SET
        state = i.state, channel = i.channel, card_id = i.card_id,
        channel_transaction_id = i.channel_transaction_id, failure_reason = i.failure_reason,
        fee = i.fee, updated_at = i.updated_at, refunded = i.refunded,
        needs_reconciliation = i.needs_reconciliation, merchant_fee = i.merchant_fee,
        next_query_at = CASE WHEN i.reschedule THEN i.next_query_at ELSE p.next_query_at END,
        query_attempts = CASE WHEN i.reschedule THEN i.query_attempts ELSE p.query_attempts END,
        version = p.version + 1
    FROM checked i
    WHERE p.payment_id = i.payment_id AND p.version = i.expected_version
      AND NOT i.seen AND NOT i.paid
    RETURNING p.payment_id, p.merchant_id
), done AS (
    SELECT i.*, upd.merchant_id AS owner FROM upd JOIN i USING (payment_id)
), att AS (
    UPDATE channel_attempts a
    SET outcome = d.outcome, error_code = d.error_code, updated_at = d.updated_at
    FROM done d
    WHERE d.answered AND a.payment_id = d.payment_id
      AND a.attempt_no = (
          SELECT max(attempt_no) FROM channel_attempts c WHERE c.payment_id = d.payment_id
      )
), box AS (
    INSERT INTO outbox (
        kind, idempotency_key, payload, traceparent, attempts, last_error, created_at,
        next_attempt_at
    )
    SELECT m.kind, m.key, m.payload::jsonb, d.traceparent, 0, '', d.updated_at, d.updated_at
    FROM unnest($26::text[], $27::text[], $28::text[], $29::text[])
        WITH ORDINALITY AS m(payment_id, kind, key, payload, n)
    JOIN done d USING (payment_id)
    ORDER BY m.n
    ON CONFLICT (idempotency_key) DO NOTHING
), ev AS (
    INSERT INTO payment_events (merchant_id, type, payment_id, refund_id, created_at)
    SELECT d.owner, d.event, d.payment_id, '', d.updated_at
    FROM done d WHERE d.event <> '' ORDER BY d.n
), note AS (
    INSERT INTO channel_notifications (channel, notification_id, payment_id, outcome, received_at)
    SELECT d.note_channel, d.note_id, d.payment_id, d.note_outcome, d.updated_at
    FROM done d WHERE d.note_id <> ''
)
SELECT c.seen, c.paid, EXISTS (SELECT 1 FROM upd WHERE upd.payment_id = c.payment_id) AS applied
FROM checked c ORDER BY c.n
"""


@dataclass(frozen=True, slots=True)
class NewPayment:
    """A payment order to record, with its first attempt and event (PaymentStore.record)."""

    payment: Payment
    accounting_date: date
    first_attempt: ChannelAttempt | None
    next_query_at: datetime | None
    event: str = ""
    traceparent: str = ""


@dataclass(frozen=True, slots=True)
class AnswerWrite:
    """A change to write if the payment is still at `expected_version` (PaymentStore.apply)."""

    change: Change
    expected_version: int
    traceparent: str
    notification: NotificationRecord | None = None


def _columns(rows: Sequence[Sequence[Any]]) -> list[list[Any]]:
    return [list(column) for column in zip(*rows, strict=True)]


def _record_row(item: NewPayment) -> tuple[Any, ...]:
    return record_columns(
        item.payment,
        item.accounting_date,
        item.first_attempt,
        item.next_query_at,
        item.event,
        item.traceparent,
    )


async def record_many(conn: asyncpg.Connection, items: Sequence[NewPayment]) -> list[Recorded]:
    """Records each new payment as PaymentStore.record would, in one statement."""
    rows = await conn.fetch(_RECORD_MANY, *_columns([_record_row(i) for i in items]))
    return [recorded(row) for row in rows]


def _apply_row(item: AnswerWrite) -> tuple[Any, ...]:
    change, note = item.change, item.notification
    p, schedule, attempt = change.payment, change.schedule, change.attempt
    return (
        *changeable_columns(p),
        schedule is not None,
        schedule.at if schedule else None,
        schedule.attempts if schedule else 0,
        item.expected_version,
        attempt[0] if attempt else "",
        attempt[1][:64] if attempt else "",
        attempt is not None,
        item.traceparent,
        change.event,
        note.channel if note else "",
        note.notification_id if note else "",
        note.outcome if note else "",
        p.merchant_id,
        p.merchant_order_no,
    )


def _message_rows(items: Sequence[AnswerWrite]) -> list[list[str]]:
    rows = [
        (i.change.payment.payment_id, m.kind.value, m.key, orjson.dumps(m.payload).decode())
        for i in items
        for m in i.change.messages
    ]
    return _columns(rows) if rows else [[], [], [], []]


async def apply_many(conn: asyncpg.Connection, items: Sequence[AnswerWrite]) -> list[Applied]:
    """Writes each change as PaymentStore.apply would, in as few statements as keep them
    apart: a later change of a payment (or of a business order's success, or with a
    notification) already in the statement waits for the next, which then finds what the
    earlier one wrote. A constraint broken all the same (another process's write in between)
    has the round written one by one, which tells each its own fate."""
    results: dict[int, Applied] = {}
    # The versions an earlier round moved each payment on from.
    moved_from: dict[str, int] = {}
    pending = list(enumerate(items))
    while pending:
        round_, pending = _round(pending)
        # A change decided on the version an earlier round just moved on from is stale: no
        # statement needs to say so (a charge's answer and its notification, one batch).
        stale = {i for i, item in round_ if _moved_on(moved_from, item)}
        results.update((index, Applied.STALE) for index in stale)
        round_ = [entry for entry in round_ if entry[0] not in stale]
        if not round_:
            continue
        try:
            fates = await _apply_round(conn, [item for _, item in round_])
        except asyncpg.UniqueViolationError:
            fates = await _one_by_one(conn, [item for _, item in round_])
        for (index, item), fate in zip(round_, fates, strict=True):
            results[index] = fate
            if fate is Applied.APPLIED:
                moved_from[_payment_id(item)] = item.expected_version
    return [results[index] for index in range(len(items))]


def _payment_id(item: AnswerWrite) -> str:
    return item.change.payment.payment_id


def _moved_on(moved_from: dict[str, int], item: AnswerWrite) -> bool:
    return moved_from.get(_payment_id(item)) == item.expected_version


def _keys(item: AnswerWrite) -> list[tuple[str, ...]]:
    """What two changes of one statement must not share."""
    p, note = item.change.payment, item.notification
    keys: list[tuple[str, ...]] = [("payment", p.payment_id)]
    if p.state is PaymentState.SUCCEEDED:
        keys.append(("order", p.merchant_id, p.merchant_order_no))
    if note is not None:
        keys.append(("notification", note.channel, note.notification_id))
    return keys


def _round(
    pending: list[tuple[int, AnswerWrite]],
) -> tuple[list[tuple[int, AnswerWrite]], list[tuple[int, AnswerWrite]]]:
    """The items that go in the next statement, sharing no key, and the rest: an item waits
    behind any earlier one it shares a key with, taken or waiting."""
    taken: set[tuple[str, ...]] = set()
    waiting: set[tuple[str, ...]] = set()
    now, later = [], []
    for entry in pending:
        keys = _keys(entry[1])
        if taken.intersection(keys) or waiting.intersection(keys):
            waiting.update(keys)
            later.append(entry)
        else:
            taken.update(keys)
            now.append(entry)
    return now, later


async def _apply_round(conn: asyncpg.Connection, items: Sequence[AnswerWrite]) -> list[Applied]:
    rows = await conn.fetch(
        _APPLY_MANY, *_columns([_apply_row(i) for i in items]), *_message_rows(items)
    )
    return [_fate(row) for row in rows]


def _fate(row: Any) -> Applied:
    if row["seen"]:
        return Applied.NOTIFICATION_SEEN
    if row["paid"]:
        return Applied.ORDER_PAID
    return Applied.APPLIED if row["applied"] else Applied.STALE


async def _one_by_one(conn: asyncpg.Connection, items: Sequence[AnswerWrite]) -> list[Applied]:
    store = PaymentStore(conn)
    return [
        await store.apply(i.change, i.expected_version, i.traceparent, i.notification)
        for i in items
    ]
