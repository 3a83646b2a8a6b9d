"""Reads a channel's payments and refunds in bulk, by cursor in one snapshot, for
reconciliation; the payments flagged for it, and clears their flags once it resolved them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import date, datetime
from typing import Any

import asyncpg

from gateway.domain.channel_records import ChannelRecord, RecordKind
from paysuite.money import Money

_PAYMENTS = """
    SELECT payment_id, '' AS refund_id, merchant_id, channel_transaction_id,
           amount - platform_coupon AS amount, currency, platform_coupon, fee, state,
           needs_reconciliation, accounting_date, created_at, updated_at,
           merchant_fee, purpose = 'top_up' AS top_up,
           CASE WHEN needs_reconciliation THEN traceparent ELSE '' END AS traceparent
    FROM payments
"""
_REFUNDS = """
    SELECT r.payment_id, r.refund_id, p.merchant_id, r.channel_refund_id AS
           channel_transaction_id, r.amount - r.platform_coupon AS amount, r.currency,
           r.platform_coupon, 0 AS fee, r.state,
           false AS needs_reconciliation, $4::date AS accounting_date, r.created_at, r.updated_at,
           CASE WHEN r.state <> 'succeeded' OR p.amount <= 0 THEN 0 ELSE
               (div(p.merchant_fee::numeric * (before.refunded + r.amount), p.amount)
                - div(p.merchant_fee::numeric * before.refunded, p.amount))::bigint
           END AS merchant_fee, false AS top_up, '' AS traceparent
    FROM refunds r JOIN payments p ON p.payment_id = r.payment_id
    -- The fee a refund gave back is its share of what was refunded by then (fees.refunded_fee):
    -- the payment's refunds that succeeded before it.
    CROSS JOIN LATERAL (
        SELECT coalesce(sum(e.amount), 0)::bigint AS refunded FROM refunds e
        WHERE e.payment_id = r.payment_id AND e.state = 'succeeded'
          AND (e.updated_at, e.refund_id) < (r.updated_at, r.refund_id)
    ) before
    WHERE p.channel = $1 AND r.created_at >= $2 AND r.created_at < $3
    ORDER BY r.refund_id
"""


def _record(kind: RecordKind, row: Mapping[str, Any]) -> ChannelRecord:
    return ChannelRecord(
        kind=kind,
        payment_id=row["payment_id"],
        refund_id=row["refund_id"],
        merchant_id=row["merchant_id"],
        channel_transaction_id=row["channel_transaction_id"],
        amount=Money(row["currency"], row["amount"]),
        fee=row["fee"],
        state=row["state"],
        needs_reconciliation=row["needs_reconciliation"],
        accounting_date=row["accounting_date"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        merchant_fee=row["merchant_fee"],
        top_up=row["top_up"],
        traceparent=row["traceparent"],
        platform_coupon=row["platform_coupon"],
    )


# One statement: the flags cleared (the version moved on, so a change read before it is stale)
# and, for each payment cleared, its event naming the run and the caller.
_CLEAR_FLAGS = """
WITH cleared AS (
    UPDATE payments SET needs_reconciliation = false, updated_at = $4, version = version + 1
    WHERE channel = $1 AND payment_id = ANY($2::text[]) AND needs_reconciliation
    RETURNING payment_id, merchant_id
), ev AS (
    INSERT INTO payment_events (merchant_id, type, payment_id, refund_id, created_at, actor,
                                reference)
    SELECT merchant_id, 'payment.reconciled', payment_id, '', $4, $5, $3 FROM cleared
)
SELECT payment_id FROM cleared
"""


class ChannelRecordStore:
    def __init__(self, connection: asyncpg.Connection) -> None:
        self._conn = connection

    async def records(
        self, channel: str, day: date, start: datetime, end: datetime, batch: int
    ) -> AsyncIterator[list[ChannelRecord]]:
        """The day's payments (by accounting date), then its refunds (created in [start,
        end)), a batch at a time; within a transaction, as cursors need."""
        payments = self._conn.cursor(
            f"{_PAYMENTS} WHERE channel = $1 AND accounting_date = $2 ORDER BY payment_id",
            channel,
            day,
        )
        refunds = self._conn.cursor(_REFUNDS, channel, start, end, day)
        for kind, cursor in ((RecordKind.PAYMENT, payments), (RecordKind.REFUND, refunds)):
            opened = await cursor
            while rows := await opened.fetch(batch):
                yield [_record(kind, row) for row in rows]

    async def flagged(
        self, channel: str, after: tuple[date, str] | None, limit: int
    ) -> list[ChannelRecord]:
        """Payments flagged for reconciliation, by accounting date and id, after a position."""
        day, payment_id = after or (date.min, "")
        rows = await self._conn.fetch(
            f"""{_PAYMENTS}
            WHERE channel = $1 AND needs_reconciliation AND (accounting_date, payment_id) > ($2, $3)
            ORDER BY accounting_date, payment_id LIMIT $4""",
            channel,
            day,
            payment_id,
            limit,
        )
        return [_record(RecordKind.PAYMENT, row) for row in rows]

    async def clear_flags(
        self, channel: str, payment_ids: list[str], run_id: str, actor: str, now: datetime
    ) -> set[str]:
        """Clears the flag of those of the payments still flagged, each with its event; the
        ids cleared."""
        rows = await self._conn.fetch(_CLEAR_FLAGS, channel, payment_ids, run_id, now, actor)
        return {row["payment_id"] for row in rows}
